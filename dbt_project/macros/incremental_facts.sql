{#- The incremental facts (models/marts/facts, one per category). Their config is the folder's
    (dbt_project.yml: incremental, delete+insert on (hospital_code, record_key), the pre-hook
    delete_vanished_rows below); each model only names its coded relation and its own columns,
    and incremental_fact() writes the rest, so the rule lives here once (DESIGN §6: marts are
    delete+insert per hospital and extract date, so a day's cost follows the day's volume).

    First build / full refresh: the latest version of every (hospital_code, record_key).
    Incremental run: the latest version, across ALL raw, of every key that
      (a) appears in raw rows of a pending (hospital_code, extract_date) pair,
      (b) is in the target with a pending (hospital_code, extract_date) - a reloaded day may have
          lost its version, so the key falls back to the newest remaining one,
      (c) sits in the target with a stale encounter-level sensitivity (a diagnosis loaded for
          another day changed whether its encounter is sensitive): looked for only in the
          encounters whose tag a pending pair changed (stale_encounter_rows), not in the
          whole history.
    "Latest" ranks by extract_date, then received_at, batch, file and line, so replaying an
    older day never overrides a newer version. -#}

{#- Columns every fact row and every published row carries: provenance and patient. -#}
{% macro fact_lineage_columns() -%}
    {{ return(['hospital_code', 'record_key', 'source_file', 'source_line', 'recorded_at',
               'received_at', 'extract_date', 'batch_id', 'patient_key', 'pid']) }}
{%- endmacro %}

{#- Columns of the facts that belong to an encounter (every category but allergy). -#}
{% macro fact_encounter_columns() -%}
    {{ return(['encounter_id', 'encounter_class', 'service_date']) }}
{%- endmacro %}

{#- A whole fact model: the latest versions of `coded_model` (a ref name), lineage columns,
    encounter columns when `has_encounter`, the category's `columns`, then the sensitivity tags
    (the code's own category, else its encounter's; allergies have no encounter). -#}
{% macro incremental_fact(coded_model, columns, has_encounter=true) -%}
    {#- Read only on incremental runs (here and by the pre-hook), so declared at parse time. -#}
    {%- do ref('stg_ops__transform_pending') %}
    {%- do ref('stg_raw__deleted_record') %}
    {%- do ref(healthlink.fact_current_rows_model(default_only=true)) %}
    {%- set selected = healthlink.fact_lineage_columns()
        + (healthlink.fact_encounter_columns() if has_encounter else [])
        + columns %}
with latest as (
    {{ healthlink.incoming_latest_versions(coded_model, has_encounter=has_encounter) }}
)

select
    {%- for column in selected %}
    latest.{{ column }},
    {%- endfor %}
    {%- if has_encounter %}
    {{ healthlink.sensitivity_columns('latest.code_sensitivity_category', 'encounter_tag.sensitivity_category') }}
from latest
left join {{ ref('int_encounter__sensitivity') }} as encounter_tag
    on encounter_tag.hospital_code = latest.hospital_code
    and encounter_tag.patient_key = latest.patient_key
    and encounter_tag.encounter_id = latest.encounter_id
    {%- else %}
    {{ healthlink.sensitivity_columns('latest.code_sensitivity_category', 'cast(null as ' ~ dbt.type_string() ~ ')') }}
from latest
    {%- endif %}
{%- endmacro %}

{#- The (hospital_code, record_key) of the rows of `relation` (a fact, or a published row table)
    whose encounter-level tag is stale. int_encounter__sensitivity holds, with retag_through,
    every encounter whose tag changed while its hospital had pending pairs (and keeps it until
    those pairs are published), so only those encounters are compared, through the patient_key
    index, never the whole relation. A tag that changed with no pair of its hospital pending
    (only a change of the reference lists does that: docs/consent.md, "Changing the classes")
    is not re-tagged here; that change requires the documented full refresh. -#}
{% macro stale_encounter_rows(relation) -%}
    select target_row.hospital_code, target_row.record_key
    from {{ ref('int_encounter__sensitivity') }} as encounter_tag
    inner join {{ relation }} as target_row
        on target_row.hospital_code = encounter_tag.hospital_code
        and target_row.patient_key = encounter_tag.patient_key
        and target_row.encounter_id = encounter_tag.encounter_id
    where {{ healthlink.retag_pending('encounter_tag') }}
      and target_row.encounter_sensitivity_category
        is distinct from encounter_tag.sensitivity_category
{%- endmacro %}

{#- Whether the int_encounter__sensitivity row aliased `tag_row` changed while a pair that is
    still pending was pending: its hospital has a pending pair no later than retag_through
    (the hospital's latest pending extract date when the tag changed). A build that failed
    leaves those pairs pending, so the next build re-tags again; a later day alone does not. -#}
{% macro retag_pending(tag_row) -%}
exists (
        select 1 from {{ ref('stg_ops__transform_pending') }} as pending
        where pending.hospital_code = {{ tag_row }}.hospital_code
          and pending.extract_date <= {{ tag_row }}.retag_through
    )
{%- endmacro %}

{#- post-hook of int_encounter__sensitivity: drop the encounters no longer sensitive once no
    pair pending when they changed is still pending (the facts re-tagged them), or at once when
    none was; they then need no row, like any encounter without a sensitive diagnosis. -#}
{% macro forget_settled_untagged_encounters() -%}
    {%- if is_incremental() -%}
delete from {{ this }} as held
where held.sensitivity_category is null
  and not {{ healthlink.retag_pending('held') }}
    {%- endif -%}
{%- endmacro %}

{% macro latest_versions_order() -%}
    extract_date desc, received_at desc, batch_id desc, source_file desc, source_line desc
{%- endmacro %}

{#- The keys are found in the fact's current rows (fact_current_rows_model: stg_raw__<category>,
    one row per coded row), and only the staged rows of those keys are coded (coded_relation,
    macros/coded_rows.sql): the coding of the whole history is never read. -#}
{% macro incoming_latest_versions(coded_model, has_encounter=true) -%}
    {%- set category = model.name | replace('fct_', '', 1) -%}
    {%- if is_incremental() %}
with pending as (
    select hospital_code, extract_date from {{ ref('stg_ops__transform_pending') }}
),

incoming_keys as (
    select raw_row.hospital_code, raw_row.record_key
    from {{ ref(healthlink.fact_current_rows_model()) }} as raw_row
    inner join pending
        on pending.hospital_code = raw_row.hospital_code
        and pending.extract_date = raw_row.extract_date
    union
    select target_row.hospital_code, target_row.record_key
    from {{ this }} as target_row
    inner join pending
        on pending.hospital_code = target_row.hospital_code
        and pending.extract_date = target_row.extract_date
    {%- if has_encounter %}
    union
    {{ healthlink.stale_encounter_rows(this) }}
    {%- endif %}
),

candidates as (
    select raw_row.*
    from {{ healthlink.coded_relation(category, coded_model, 'exists (select 1 from incoming_keys'
        ~ ' where incoming_keys.hospital_code = staged.hospital_code'
        ~ ' and incoming_keys.record_key = staged.record_key)') }} as raw_row
),
    {%- else %}
with candidates as (
    select * from {{ healthlink.coded_relation(category, coded_model) }} as raw_row
),
    {%- endif %}

ranked as (
    select
        candidates.*,
        row_number() over (
            partition by hospital_code, record_key
            order by {{ healthlink.latest_versions_order() }}
        ) as version_rank
    from candidates
)

select * from ranked where version_rank = 1
{%- endmacro %}

{#- The model whose rows are a fact's current records: stg_raw__<category> by convention, or
    meta.current_rows (fct_vital_sign: int_vital_sign__with_bmi, which also derives BMI rows).
    At parse time meta is not known yet, so incremental_fact() declares the convention's model
    (default_only); an override is the fact's own coded model, which it reads anyway. -#}
{% macro fact_current_rows_model(default_only=false) -%}
    {%- set override = none if default_only else config.get('meta', {}).get('current_rows') -%}
    {{ return(override or 'stg_raw__' ~ model.name | replace('fct_', '', 1)) }}
{%- endmacro %}

{#- Whether the row aliased `row` of `entity` is a record a pending pair's extract deleted at
    the source (raw.deleted_record: the loader resolved the source's key prefixes to keys and
    deleted the earlier versions from raw). Its row in a fact or published table carries an
    earlier day, so the pending-pair arm of the pre-hooks alone would never reach it. -#}
{% macro tombstoned(row, entity) -%}
exists (
        select 1
        from {{ ref('stg_raw__deleted_record') }} as deleted
        inner join {{ ref('stg_ops__transform_pending') }} as pending
            on pending.hospital_code = deleted.hospital_code
            and pending.extract_date = deleted.extract_date
        where deleted.hospital_code = {{ row }}.hospital_code
          and deleted.entity = '{{ entity }}'
          and deleted.record_key = {{ row }}.record_key
    )
{%- endmacro %}

{#- pre-hook of every fact (dbt_project.yml, folder marts/facts): rows whose record no longer
    exists in its current rows are deleted when they belong to a pending (hospital_code,
    extract_date) pair (the day was reloaded without it, or the patient was purged) or a
    pending pair's extract deleted the record at the source (`tombstoned`; a version sent
    again later keeps it); rows that still have a version are replaced by the delete+insert
    itself. With meta.derived_rows, a derived row (is_derived) goes, whatever its pair, once
    its current rows no longer derive it. -#}
{% macro delete_vanished_rows() -%}
    {%- if is_incremental() -%}
    {%- set current_rows = ref(healthlink.fact_current_rows_model()) -%}
delete from {{ this }} as target_row
where (
    exists (
        select 1 from {{ ref('stg_ops__transform_pending') }} as pending
        where pending.hospital_code = target_row.hospital_code
          and pending.extract_date = target_row.extract_date
    )
    or {{ healthlink.tombstoned('target_row', model.name | replace('fct_', '', 1)) }}
        {%- if config.get('meta', {}).get('derived_rows') %}
    or target_row.is_derived
        {%- endif %}
)
{#- One NOT EXISTS at the top level, never under an OR: PostgreSQL then plans it as one
    anti-join over the current rows. Under an OR it ran as a subplan per candidate row,
    each reading the hospital's whole history (fct_vital_sign: 22 s of a day's build at 10
    hospitals x 30 days; 1 s as an anti-join). #}
and not exists (
    select 1 from {{ current_rows }} as raw_row
    where raw_row.hospital_code = target_row.hospital_code
      and raw_row.record_key = target_row.record_key
)
    {%- endif -%}
{%- endmacro %}
