-- One row per record a source deleted (a tombstone); no joins here.
select
    hospital_code,
    extract_date,
    batch_id,
    entity,
    record_key
from {{ source('raw', 'deleted_record') }}
