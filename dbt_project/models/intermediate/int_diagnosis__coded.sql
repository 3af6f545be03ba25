-- One row per raw diagnosis row: ICD-10-TM names and the code's own class (macros/sensitivity.sql);
-- a SNOMED CT diagnosis is classified through its ICD-10 code in code_crosswalk.
{% set reference_columns %}
        icd10.name_en as diagnosis_name_en,
        icd10.name_th as diagnosis_name_th,
        (icd10.code is not null or crosswalk.source_code is not null) as is_code_mapped
{%- endset %}
{{ healthlink.coded_rows(
    'stg_raw__diagnosis', 'diagnosis', 'icd10_tm', 'icd10',
    'icd10.code = diagnosis.icd10_code', reference_columns,
    {'column': 'icd10_code',
     'native_system': "cast('icd10' as " ~ dbt.type_string() ~ ")",
     'class_system': "'icd10'",
     'class_key': 'diagnosis.icd10_code'}) }}
