-- Exercises healthlink.per_visit_gate(): with no physician set in the session, no grant can
-- match, so rows of per-visit hospitals must NOT pass. Any row returned is a leak.
select encounter.hospital_code, encounter.record_key
from {{ ref('encounter') }} as encounter
where encounter.per_visit_required
  and {{ healthlink.current_physician_licence() }} is null
  and {{ healthlink.per_visit_gate('encounter.patient_key', 'encounter.hospital_code') }}
