select distinct
    hospital_code,
    extract_date
from {{ source('ops', 'transform_pending') }}
