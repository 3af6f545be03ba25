-- One row per code of the reference seeds (diagnoses, drugs, lab tests, procedures) with the
-- class the one rule gives it (macros/sensitivity.sql): what a physician without the
-- sensitive-data choice cannot see, readable as a table. Its not_null test on code_class
-- fails the build when a reference code has no explicit class.
with reference_codes as (
    select
        cast('icd10' as {{ dbt.type_string() }}) as code_system,
        code,
        name_en as name,
        cast('icd10' as {{ dbt.type_string() }}) as class_system,
        code as class_key
    from {{ ref('icd10_tm') }}
    union all
    select
        {{ healthlink.drug_code_system('drug_code') }},
        drug_code,
        drug_name,
        'atc',
        atc_code
    from {{ ref('drug_codes') }}
    union all
    select 'moph_lab', lab_code, lab_name, 'lab_test', tests_for
    from {{ ref('lab_codes') }}
    union all
    select
        {{ healthlink.procedure_code_system('procedure_code') }},
        procedure_code,
        procedure_name,
        {{ healthlink.procedure_code_system('procedure_code') }},
        procedure_code
    from {{ ref('procedure_codes') }}
),

classified as (
    select
        reference_codes.*,
        {{ healthlink.code_class('reference_codes.class_system', 'reference_codes.class_key') }} as code_class
    from reference_codes
)

select
    classified.*,
    {{ healthlink.class_sensitivity_category('classified.code_class') }} as sensitivity_category
from classified
