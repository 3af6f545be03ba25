-- Grain: one row per registered hospital: how fresh its data is (the viewer's "data as of")
-- and whether it requires per-visit consent. Reads the live registry copy.
select
    hospital.hospital_code,
    hospital.hospital_name,
    hospital.network_code,
    hospital.network_name,
    hospital.participating_since,
    hospital.per_visit_consent,
    freshness.last_extract_date,
    freshness.last_received_at as data_as_of
from {{ ref('stg_consent__hospital') }} as hospital
left join {{ ref('dim_hospital') }} as freshness
    on freshness.hospital_code = hospital.hospital_code
