-- One row per raw vital-sign row, plus one derived BMI row per encounter that has both a
-- body weight and a body height: BMI = kg / m^2 from the latest weight and the latest height
-- of that encounter. The derived row takes its lineage from the newer of the two, and a
-- record key of its own ('derived:bmi:' || encounter), so re-sent measurements replace it.
{%- set lineage = ['source_file', 'source_line', 'extract_date', 'batch_id', 'recorded_at',
                   'pid', 'encounter_class', 'service_date', 'received_at'] %}
with measured as (
    select
        vital.*,
        row_number() over (
            partition by hospital_code, patient_key, encounter_id, vital_code
            order by {{ healthlink.latest_versions_order() }}
        ) as measurement_rank
    from {{ ref('stg_raw__vital_sign') }} as vital
    where vital_code in ('body_weight', 'body_height')
      and encounter_id is not null
      and value > 0
),

-- Weight and height side by side by conditional aggregation, not a self-join: at most one
-- ranked row per (encounter, vital_code), so max() picks it. A self-join of the ranked rows
-- looks tiny to PostgreSQL's planner (a filtered CTE) and became a nested loop over
-- millions of rows at the 1M-patient benchmark.
latest_pair as (
    select
        hospital_code,
        patient_key,
        encounter_id,
        {%- for side in ['weight', 'height'] %}
        {%- set code = 'body_' ~ side %}
        max(case when vital_code = '{{ code }}' then value end) as {{ side }}_value,
        {%- for column in lineage %}
        max(case when vital_code = '{{ code }}' then {{ column }} end) as {{ side }}_{{ column }}{{ ',' if not (loop.last and side == 'height') }}
        {%- endfor %}
        {%- endfor %}
    from measured
    where measurement_rank = 1
    group by hospital_code, patient_key, encounter_id
),

pairs as (
    select
        hospital_code,
        patient_key,
        encounter_id,
        weight_value as weight_kg,
        height_value as height_cm,
        (
            weight_extract_date > height_extract_date
            or (weight_extract_date = height_extract_date
                and coalesce(weight_received_at, height_received_at)
                    >= coalesce(height_received_at, weight_received_at))
        ) as weight_is_newer,
        {%- for column in lineage %}
        weight_{{ column }},
        height_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from latest_pair
    where weight_value is not null
      and height_value is not null
),

derived_bmi as (
    select
        hospital_code,
        {%- for column in ['source_file', 'source_line', 'extract_date', 'batch_id'] %}
        case when weight_is_newer then weight_{{ column }} else height_{{ column }} end as {{ column }},
        {%- endfor %}
        {{ dbt.concat(["'derived:bmi:'", 'encounter_id', "':'", 'patient_key']) }} as record_key,
        case when weight_is_newer then weight_recorded_at else height_recorded_at end as recorded_at,
        weight_pid as pid,
        encounter_id,
        weight_encounter_class as encounter_class,
        weight_service_date as service_date,
        cast('bmi' as {{ dbt.type_string() }}) as vital_code,
        {{ healthlink.round_double('weight_kg / ((height_cm / 100.0) * (height_cm / 100.0))', 2) }} as value,
        cast('kg/m2' as {{ dbt.type_string() }}) as unit,
        patient_key,
        cast(null as {{ dbt.type_string() }}) as row_hash,
        case when weight_is_newer then weight_received_at else height_received_at end as received_at,
        true as is_derived
    from pairs
),

measured_rows as (
    select
        hospital_code,
        source_file,
        source_line,
        extract_date,
        batch_id,
        record_key,
        recorded_at,
        pid,
        encounter_id,
        encounter_class,
        service_date,
        vital_code,
        value,
        unit,
        patient_key,
        row_hash,
        received_at,
        false as is_derived
    from {{ ref('stg_raw__vital_sign') }}
)

select
    unioned.*,
    cast(null as {{ dbt.type_string() }}) as code_sensitivity_category
from (
    select * from measured_rows
    union all
    select * from derived_bmi
) as unioned
