-- How the API reads a category for the current physician: the published view plus the
-- per-visit gate. `dbt compile -s per_visit_visible_encounters` shows the SQL per target.
select encounter.*
from {{ ref('encounter') }} as encounter
where {{ healthlink.per_visit_gate('encounter.patient_key', 'encounter.hospital_code') }}
