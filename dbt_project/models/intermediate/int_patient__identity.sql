-- One row per patient_key: the most complete, most recent demographics any hospital sent.
with patient_rows as (
    select * from {{ ref('stg_raw__patient') }}
),

ranked as (
    select
        patient_rows.*,
        row_number() over (
            partition by patient_key
            order by
                case when first_name is null or last_name is null then 1 else 0 end,
                case when birth_date is null then 1 else 0 end,
                {{ healthlink.latest_versions_order() }},
                hospital_code
        ) as demographics_rank
    from patient_rows
),

seen as (
    select
        patient_key,
        min(extract_date) as first_seen_extract_date,
        max(extract_date) as last_seen_extract_date,
        min(received_at) as first_received_at,
        count(distinct hospital_code) as hospitals_count
    from patient_rows
    group by patient_key
)

select
    ranked.patient_key,
    ranked.cid,
    ranked.prename,
    ranked.first_name,
    ranked.last_name,
    ranked.sex,
    ranked.birth_date,
    ranked.hospital_code as demographics_hospital_code,
    seen.first_seen_extract_date,
    seen.last_seen_extract_date,
    seen.first_received_at,
    seen.hospitals_count
from ranked
inner join seen on seen.patient_key = ranked.patient_key
where ranked.demographics_rank = 1
