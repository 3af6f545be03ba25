-- Grain: one row per visible patient: consent active and at least one hospital in the
-- patient's sender choice has sent their demographics.
{{ healthlink.publish_patient(['patient_key', 'cid', 'prename', 'first_name', 'last_name', 'sex', 'birth_date', 'first_seen_extract_date', 'last_seen_extract_date', 'hospitals_count']) }}
