-- One row per raw procedure row: ICD-9-CM name and the procedure's own class
-- (termination of pregnancy is sensitive; routine obstetric care stays visible); a SNOMED CT
-- procedure is classified through code_crosswalk (an ICD-9-CM code, or what a test tests for).
{% set reference_columns %}
        reference.procedure_name,
        (reference.procedure_code is not null or crosswalk.source_code is not null) as is_code_mapped
{%- endset %}
{{ healthlink.coded_rows(
    'stg_raw__procedure', 'performed', 'procedure_codes', 'reference',
    'reference.procedure_code = performed.procedure_code', reference_columns,
    {'column': 'procedure_code',
     'native_system': healthlink.procedure_code_system('performed.procedure_code'),
     'class_system': healthlink.procedure_code_system('performed.procedure_code'),
     'class_key': 'performed.procedure_code'}) }}
