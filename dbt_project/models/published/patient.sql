-- Grain: one row per visible patient: consent active and at least one hospital in the
-- patient's sender choice has sent their demographics.
select
    patient.patient_key,
    patient.cid,
    patient.prename,
    patient.first_name,
    patient.last_name,
    patient.sex,
    patient.birth_date,
    patient.first_seen_extract_date,
    patient.last_seen_extract_date,
    patient.hospitals_count
from {{ ref('dim_patient') }} as patient
where exists (
    select 1
    from {{ ref('bridge_patient_hospital') }} as known_at
    inner join {{ ref('int_consent__patient_hospital') }} as allowed
        on allowed.patient_key = known_at.patient_key
        and allowed.hospital_code = known_at.hospital_code
    where known_at.patient_key = patient.patient_key
)
