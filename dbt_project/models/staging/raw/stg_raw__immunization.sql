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
    vaccine_code,
    vaccine_place,
    provider_id,
    -- null: the code is in the column's native Thai system (read by its shape, as today)
    code_system as source_code_system,
    patient_key,
    row_hash,
    received_at
from {{ source('raw', 'immunization') }}
