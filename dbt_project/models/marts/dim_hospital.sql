-- Grain: one row per hospital: every registered hospital, plus any code that sent data
-- without being registered (so facts never lose their hospital).
with registered as (
    select * from {{ ref('stg_consent__hospital') }}
),

freshness as (
    select * from {{ ref('int_hospital__freshness') }}
),

all_codes as (
    select hospital_code from registered
    union
    select hospital_code from freshness
)

select
    all_codes.hospital_code,
    registered.hospital_name,
    registered.network_code,
    registered.network_name,
    registered.participating_since,
    coalesce(registered.per_visit_consent, false) as per_visit_consent,
    registered.hospital_code is not null as is_registered,
    freshness.last_extract_date,
    freshness.last_received_at
from all_codes
left join registered on registered.hospital_code = all_codes.hospital_code
left join freshness on freshness.hospital_code = all_codes.hospital_code
