-- THE sender-choice rule (one SQL home): a patient allows hospital H iff the consent is active
-- and (sender_scope = 'ALL', or a patient_sender row names H or H's network). A view over the
-- live consent tables, so withdrawal or a changed list takes effect at once.
select
    patient_consent.patient_key,
    hospital.hospital_code,
    patient_consent.sensitive_allowed
from {{ ref('stg_consent__patient_consent') }} as patient_consent
cross join {{ ref('stg_consent__hospital') }} as hospital
where patient_consent.status = 'active'
  and (
    patient_consent.sender_scope = 'ALL'
    or exists (
        select 1
        from {{ ref('stg_consent__patient_sender') }} as sender
        where sender.patient_key = patient_consent.patient_key
          and (
            (sender.kind = 'hospital' and sender.code = hospital.hospital_code)
            or (sender.kind = 'network' and sender.code = hospital.network_code)
          )
    )
  )
