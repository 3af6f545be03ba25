-- PostgreSQL only. Grain: one row of dim_patient with the hospitals that sent the patient's
-- demographics; row-level security shows a patient known at a hospital their consent allows.
-- Incremental like the fact row tables (dbt_project.yml), by patient: dim_patient is rebuilt
-- whole, so an incremental run writes only the patients whose row differs from the one held
-- (compared as jsonb, by column name), and prepare_published_rows (macros/publish.sql) first
-- deletes the patients that are gone. The table, its RLS and grants and published.patient
-- over it are never dropped.
-- Indexes (dbt's `indexes`, created with the table): patient_key for the record and the
-- delete+insert, cid for the search by national ID.
{{ config(
    unique_key='patient_key',
    indexes=[{'columns': ['patient_key']}, {'columns': ['cid']}],
) }}
{{ healthlink.consent_function_dependencies() }}
with current_row as (
    select
        patient.*,
        known.known_at_hospitals
    from {{ ref('dim_patient') }} as patient
    inner join (
        select
            patient_key,
            array_agg(hospital_code order by hospital_code) as known_at_hospitals
        from {{ ref('bridge_patient_hospital') }}
        group by patient_key
    ) as known
        on known.patient_key = patient.patient_key
)

select current_row.*
from current_row
{%- if is_incremental() %}
where not exists (
    select 1
    from {{ this }} as held
    where held.patient_key = current_row.patient_key
      and to_jsonb(held) = to_jsonb(current_row)
)
{%- endif %}
