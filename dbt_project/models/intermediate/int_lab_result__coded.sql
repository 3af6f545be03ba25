-- One row per raw lab row: name, LOINC, unit and normal range from the MOPH lab list, and the
-- class of what the test tests for (lab_codes.tests_for: HIV, CD4, viral load, syphilis and
-- other STI tests reveal the diagnosis); a LOINC test is classified through code_crosswalk.
{% set reference_columns %}
        reference.tests_for,
        reference.lab_name,
        reference.loinc_code,
        reference.unit,
        reference.low as reference_low,
        reference.high as reference_high,
        case
            when lab.result_value is null then null
            when reference.low is not null and lab.result_value < reference.low then true
            when reference.high is not null and lab.result_value > reference.high then true
            when reference.low is null and reference.high is null then null
            else false
        end as is_out_of_range,
        (reference.lab_code is not null or crosswalk.source_code is not null) as is_code_mapped
{%- endset %}
{{ healthlink.coded_rows(
    'stg_raw__lab_result', 'lab', 'lab_codes', 'reference',
    'reference.lab_code = lab.lab_code', reference_columns,
    {'column': 'lab_code',
     'native_system': "cast('moph_lab' as " ~ dbt.type_string() ~ ")",
     'class_system': "'lab_test'",
     'class_key': 'reference.tests_for'}) }}
