-- One row per raw dispense row: reference drug name, ATC, and the drug's sensitivity
-- (antiretrovirals and methadone reveal the diagnosis).
select
    dispense.*,
    drug.drug_name as reference_drug_name,
    drug.atc_code,
    {{ healthlink.code_sensitivity_category('drug', 'dispense.drug_code') }} as code_sensitivity_category
from {{ ref('stg_raw__medication_dispense') }} as dispense
left join {{ ref('drug_codes') }} as drug
    on drug.drug_code = dispense.drug_code
