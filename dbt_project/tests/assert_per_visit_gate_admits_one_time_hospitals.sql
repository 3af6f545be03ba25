-- Exercises healthlink.per_visit_gate(): data from a hospital that does not require per-visit
-- consent must pass the gate whoever the physician is (even with no physician set). Any row
-- returned here is a gate that wrongly blocks one-time-consent hospitals.
select encounter.hospital_code, encounter.record_key
from {{ ref('encounter') }} as encounter
where not encounter.per_visit_required
  and not {{ healthlink.per_visit_gate('encounter.patient_key', 'encounter.hospital_code') }}
