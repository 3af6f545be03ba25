{{ config(materialized='table') }}
-- One row per sensitive encounter (hospital_code, patient_key, encounter_id): ANY current
-- (latest version of each record) diagnosis of the encounter, principal or not, is in a
-- sensitive class. Every row of such an encounter, in any category, is tagged sensitive.
-- When several diagnoses are sensitive the category is the first by name (one tag per row).
with latest_diagnosis as (
    select
        hospital_code,
        patient_key,
        encounter_id,
        code_sensitivity_category,
        row_number() over (
            partition by hospital_code, record_key
            order by {{ healthlink.latest_versions_order() }}
        ) as version_rank
    from {{ ref('int_diagnosis__coded') }}
)

select
    hospital_code,
    patient_key,
    encounter_id,
    min(code_sensitivity_category) as sensitivity_category
from latest_diagnosis
where version_rank = 1
  and code_sensitivity_category is not null
  and encounter_id is not null
group by hospital_code, patient_key, encounter_id
