-- One row per raw dispense row: reference drug name, ATC, and the class of that ATC code
-- (antipsychotics, antidepressants, addiction treatment, HIV antiretrovirals are sensitive).
{% set reference_columns %}
        drug.drug_name as reference_drug_name,
        drug.atc_code,
        {{ healthlink.drug_code_system('dispense.drug_code') }} as code_system,
        {{ healthlink.code_class("'atc'", 'drug.atc_code') }} as code_class,
        drug.drug_code is not null as is_code_mapped
{%- endset %}
{{ healthlink.coded_rows(
    'stg_raw__medication_dispense', 'dispense', 'drug_codes', 'drug',
    'drug.drug_code = dispense.drug_code', reference_columns) }}
