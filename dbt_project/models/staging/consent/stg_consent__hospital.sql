select
    hospital_code,
    hospital_name,
    network_code,
    network_name,
    participating_since,
    coalesce(per_visit_consent, false) as per_visit_consent
from {{ source('consent', 'hospital') }}
