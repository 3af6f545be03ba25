-- PostgreSQL only. Grain: one row of dim_patient with the hospitals that sent the patient's
-- demographics; row-level security shows a patient known at a hospital their consent allows.
{{ healthlink.consent_function_dependencies() }}
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
