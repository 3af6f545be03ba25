-- Grain: one row per (hospital_code, extract_date, code_system) with coded rows in raw:
-- diagnoses, dispensed drugs, lab results, procedures and vaccines, in their native Thai systems
-- (named by shape: icd10, drug_24_digit, drug_tmt, moph_lab, icd9cm_procedure,
-- icd10tm_procedure, moph_vaccine) or in the system the connector named (snomed, rxnorm, loinc,
-- cvx, local, ...: contract code_system).
-- unmapped: the code is in neither its system's reference seed nor code_crosswalk (names and
-- mapping; onboarding reads it). unclassified: no sensitivity class knows the code. For a
-- native system such rows are shown like any other, tagged by their encounter; for another
-- system they are hidden as sensitive (macros/sensitivity.sql) and raise the operations
-- alert `unclassified_codes` (warehouse/pipeline/alerts.py). Counted here, never dropped.
-- Operations read it as healthlink_ops (the code coverage of `healthlink ops report` and the
-- ops page, warehouse/pipeline/ops.py code_coverage): the post-hook grants that (ops_reads).
-- Incremental on the batches being built (ops.transform_pending), like the facts: the
-- pre-hook deletes the pending days, which are then counted again from raw.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['hospital_code', 'extract_date', 'code_system'],
    on_schema_change='append_new_columns',
    pre_hook="{% if is_incremental() %}delete from {{ this }} as built where {{ healthlink.being_built_condition('batches_being_built', 'built') }}{% endif %}",
    post_hook="{{ healthlink.ops_reads() }}",
    indexes=([{'columns': ['extract_date']}] if target.type == 'postgres' else []),
) }}
{#- (model, code column, whether the row needs a class): vaccines are never sensitive by code,
    so a vaccine is never unclassified (nor alerted on), only mapped or unmapped. -#}
{%- set coded_models = [
    ('int_diagnosis__coded', 'icd10_code', true),
    ('int_medication_dispense__coded', 'drug_code', true),
    ('int_lab_result__coded', 'lab_code', true),
    ('int_procedure__coded', 'procedure_code', true),
    ('int_immunization__coded', 'vaccine_code', false),
] %}
with coded as (
    {%- for coded_model, code_column, needs_class in coded_models %}
    select
        coded_row.hospital_code,
        coded_row.extract_date,
        coded_row.code_system,
        coded_row.source_code_system is null as is_native_system,
        coded_row.{{ code_column }} as code,
        coded_row.is_code_mapped,
        {{ 'coded_row.code_class is not null' if needs_class else 'true' }} as is_classified
    {#- Only the staged rows being built are coded (macros/coded_rows.sql, coded_relation). #}
    from {{ healthlink.coded_relation(
        coded_model | replace('int_', '', 1) | replace('__coded', ''), coded_model,
        healthlink.being_built_condition('batches_being_built', 'staged') if is_incremental() else none
    ) }} as coded_row
    where coded_row.{{ code_column }} is not null
    {{- "\n    union all" if not loop.last }}
    {%- endfor %}
)

select
    hospital_code,
    extract_date,
    code_system,
    -- one system is either native or not (a connector never names a native system)
    {{ dbt.bool_or('is_native_system') }} as is_native_system,
    count(*) as coded_rows,
    cast(sum(case when is_code_mapped then 0 else 1 end) as {{ dbt.type_bigint() }}) as unmapped_rows,
    count(distinct case when is_code_mapped then null else code end) as distinct_unmapped_codes,
    cast(sum(case when is_classified then 0 else 1 end) as {{ dbt.type_bigint() }}) as unclassified_rows,
    count(distinct case when is_classified then null else code end) as distinct_unclassified_codes
from coded
group by hospital_code, extract_date, code_system
