select
    patient_key,
    status,
    sender_scope,
    coalesce(sensitive_allowed, false) as sensitive_allowed,
    registered_on,
    changed_at
from {{ source('consent', 'patient_consent') }}
