{#- PostgreSQL: a table, since a security_invoker view would need the API role to read the
    registry and the marts; it holds no patient data, and dbt rebuilds it after every sync. -#}
{{ config(materialized=('table' if target.type == 'postgres' else 'view')) }}
-- Grain: one row per registered hospital: how fresh its data is (the viewer's "data as of")
-- and whether it requires per-visit consent (dim_hospital, rebuilt with every sync).
select
    hospital.hospital_code,
    hospital.hospital_name,
    hospital.network_code,
    hospital.network_name,
    hospital.participating_since,
    hospital.per_visit_consent,
    hospital.last_extract_date,
    hospital.last_received_at as data_as_of
from {{ ref('dim_hospital') }} as hospital
where hospital.is_registered
