-- One row per raw dispense row: reference drug name, ATC, and the class of that ATC code
-- (antipsychotics, antidepressants, addiction treatment, HIV antiretrovirals are sensitive);
-- an RxNorm drug is classified through its ATC code in code_crosswalk.
{% set reference_columns %}
        drug.drug_name as reference_drug_name,
        drug.atc_code,
        (drug.drug_code is not null or crosswalk.source_code is not null) as is_code_mapped
{%- endset %}
{{ healthlink.coded_rows(
    'stg_raw__medication_dispense', 'dispense', 'drug_codes', 'drug',
    'drug.drug_code = dispense.drug_code', reference_columns,
    {'column': 'drug_code',
     'native_system': healthlink.drug_code_system('dispense.drug_code'),
     'class_system': "'atc'",
     'class_key': 'drug.atc_code'}) }}
