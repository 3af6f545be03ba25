select
    patient_key,
    kind,
    code
from {{ source('consent', 'patient_sender') }}
