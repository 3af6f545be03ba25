-- One row per loaded raw row (every version of every record); no joins here.
select
    hospital_code,
    source_file,
    source_line,
    extract_date,
    batch_id,
    record_key,
    recorded_at,
    cid,
    pid,
    hn,
    prename,
    first_name,
    last_name,
    sex,
    birth_date,
    patient_key,
    row_hash,
    received_at
from {{ source('raw', 'patient') }}
