-- One row per hospital that has loaded data: the newest extract date and the last time the
-- warehouse received anything from it ("data as of").
with loaded as (
    {%- for entity in ['patient', 'encounter', 'diagnosis', 'medication_dispense', 'procedure',
                       'immunization', 'vital_sign', 'lab_result', 'imaging_report', 'allergy'] %}
    select hospital_code, max(extract_date) as last_extract_date, max(received_at) as last_received_at
    from {{ ref('stg_raw__' ~ entity) }}
    group by hospital_code
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select
    hospital_code,
    max(last_extract_date) as last_extract_date,
    max(last_received_at) as last_received_at
from loaded
group by hospital_code
