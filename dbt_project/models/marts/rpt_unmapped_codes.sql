-- Grain: one row per (hospital_code, extract_date, code_system) with coded rows in raw:
-- diagnoses (ICD-10-TM), dispensed drugs (24-digit or TMT) and lab results (MOPH lab codes),
-- and how many of them carry a code the reference seeds do not hold (icd10_tm, drug_codes,
-- lab_codes; the coded intermediate models make that join and say is_code_mapped). Such rows
-- are loaded and shown like any other: counted here, never dropped. Onboarding reads it.
-- Incremental on the batches being built (ops.transform_pending), like the facts: the
-- pre-hook deletes the pending days, which are then counted again from raw.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['hospital_code', 'extract_date', 'code_system'],
    pre_hook="{% if is_incremental() %}delete from {{ this }} as built where {{ healthlink.being_built_condition('batches_being_built', 'built') }}{% endif %}",
) }}
{%- set coded_models = [
    ('int_diagnosis__coded', 'icd10_code'),
    ('int_medication_dispense__coded', 'drug_code'),
    ('int_lab_result__coded', 'lab_code'),
] %}
with coded as (
    {%- for coded_model, code_column in coded_models %}
    select
        coded_row.hospital_code,
        coded_row.extract_date,
        coded_row.code_system,
        coded_row.{{ code_column }} as code,
        coded_row.is_code_mapped
    from {{ ref(coded_model) }} as coded_row
    where coded_row.{{ code_column }} is not null
    {%- if is_incremental() %}
        and {{ healthlink.being_built_condition('batches_being_built', 'coded_row') }}
    {%- endif %}
    {{- "\n    union all" if not loop.last }}
    {%- endfor %}
)

select
    hospital_code,
    extract_date,
    code_system,
    count(*) as coded_rows,
    cast(sum(case when is_code_mapped then 0 else 1 end) as {{ dbt.type_bigint() }}) as unmapped_rows,
    count(distinct case when is_code_mapped then null else code end) as distinct_unmapped_codes
from coded
group by hospital_code, extract_date, code_system
