-- One row per raw dispense row: reference drug name, ATC, and the class of that ATC code
-- (antipsychotics, antidepressants, addiction treatment, HIV antiretrovirals are sensitive).
with classified as (
    select
        dispense.*,
        drug.drug_name as reference_drug_name,
        drug.atc_code,
        {{ healthlink.drug_code_system('dispense.drug_code') }} as code_system,
        {{ healthlink.code_class("'atc'", 'drug.atc_code') }} as code_class,
        drug.drug_code is not null as is_code_mapped
    from {{ ref('stg_raw__medication_dispense') }} as dispense
    left join {{ ref('drug_codes') }} as drug
        on drug.drug_code = dispense.drug_code
)

select
    classified.*,
    {{ healthlink.class_sensitivity_category('classified.code_class') }} as code_sensitivity_category
from classified
