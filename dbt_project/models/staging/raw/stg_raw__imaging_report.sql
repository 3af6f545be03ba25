-- One row per loaded raw row (every version of every record); no joins here.
select
    hospital_code,
    source_file,
    source_line,
    extract_date,
    batch_id,
    record_key,
    recorded_at,
    pid,
    encounter_id,
    encounter_class,
    service_date,
    study_id,
    modality,
    body_site,
    study_code,
    conclusion,
    provider_id,
    patient_key,
    row_hash,
    received_at
from {{ source('raw', 'imaging_report') }}
