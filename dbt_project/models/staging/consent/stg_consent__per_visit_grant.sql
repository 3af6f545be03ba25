select
    physician_licence,
    physician_hospital_code,
    patient_key,
    source_hospital_code,
    granted_at,
    expires_at
from {{ source('consent', 'per_visit_grant') }}
