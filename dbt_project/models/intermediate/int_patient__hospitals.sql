-- One row per (patient_key, hospital_code): which hospitals know the patient, under which HN.
with ranked as (
    select
        patient_key,
        hospital_code,
        hn,
        pid,
        extract_date,
        min(extract_date) over (partition by patient_key, hospital_code) as first_extract_date,
        max(extract_date) over (partition by patient_key, hospital_code) as last_extract_date,
        row_number() over (
            partition by patient_key, hospital_code
            order by {{ healthlink.latest_versions_order() }}
        ) as version_rank
    from {{ ref('stg_raw__patient') }}
)

select
    patient_key,
    hospital_code,
    hn,
    pid,
    first_extract_date,
    last_extract_date
from ranked
where version_rank = 1
