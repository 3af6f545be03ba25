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

pairs as (
    select
        weight.hospital_code,
        weight.patient_key,
        weight.encounter_id,
        weight.value as weight_kg,
        height.value as height_cm,
        (
            weight.extract_date > height.extract_date
            or (weight.extract_date = height.extract_date
                and coalesce(weight.received_at, height.received_at)
                    >= coalesce(height.received_at, weight.received_at))
        ) as weight_is_newer,
        {%- for column in lineage %}
        weight.{{ column }} as weight_{{ column }},
        height.{{ column }} as height_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from measured as weight
    inner join measured as height
        on height.hospital_code = weight.hospital_code
        and height.patient_key = weight.patient_key
        and height.encounter_id = weight.encounter_id
        and height.vital_code = 'body_height'
        and height.measurement_rank = 1
    where weight.vital_code = 'body_weight'
      and weight.measurement_rank = 1
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
