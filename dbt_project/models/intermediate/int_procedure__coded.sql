-- One row per raw procedure row: ICD-9-CM name and the procedure's own class
-- (termination of pregnancy is sensitive; routine obstetric care stays visible).
{% set reference_columns %}
        reference.procedure_name,
        {{ healthlink.procedure_code_system('performed.procedure_code') }} as code_system,
        {{ healthlink.code_class(healthlink.procedure_code_system('performed.procedure_code'), 'performed.procedure_code') }} as code_class
{%- endset %}
{{ healthlink.coded_rows(
    'stg_raw__procedure', 'performed', 'procedure_codes', 'reference',
    'reference.procedure_code = performed.procedure_code', reference_columns) }}
