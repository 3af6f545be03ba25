{{ config(materialized='table') }}
-- One row per sensitive encounter (hospital_code, patient_key, encounter_id): the current
-- (latest version of each record) principal diagnosis (diagnosis_type '1') is in a sensitive
-- value set. Every row of such an encounter, in any category, is tagged sensitive.
with latest_diagnosis as (
    select
        hospital_code,
        patient_key,
        encounter_id,
        diagnosis_type,
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
  and diagnosis_type = '1'
  and code_sensitivity_category is not null
  and encounter_id is not null
group by hospital_code, patient_key, encounter_id
