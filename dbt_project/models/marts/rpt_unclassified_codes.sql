-- Grain: one row per (hospital_code, category, code_system) with at least one current fact row
-- whose code no sensitivity class knows (code_class is null): a drug code missing from
-- drug_codes or a TMT code, a lab code missing from lab_codes, an ICD-10-TM procedure code,
-- a malformed code, and a code of another system (snomed, rxnorm, loinc, local...) that
-- code_crosswalk lacks. Native rows are shown by their encounter's tag only; the others are
-- hidden as 'unclassified' and alerted on per day (rpt_unmapped_codes). This table says where
-- the classification must grow (DESIGN §6: reported, never silently shown).
{%- set classified_facts = [
    ('diagnosis', 'fct_diagnosis', 'icd10_code'),
    ('medication_dispense', 'fct_medication_dispense', 'drug_code'),
    ('lab_result', 'fct_lab_result', 'lab_code'),
    ('procedure', 'fct_procedure', 'procedure_code'),
    ('allergy', 'fct_allergy', 'drug_code'),
] %}
with unclassified as (
    {%- for category, fact, code_column in classified_facts %}
    select
        hospital_code,
        cast('{{ category }}' as {{ dbt.type_string() }}) as category,
        code_system,
        {{ code_column }} as code
    from {{ ref(fact) }}
    where code_class is null
    {{- "\n    union all" if not loop.last }}
    {%- endfor %}
)

select
    hospital_code,
    category,
    code_system,
    count(*) as unclassified_rows,
    count(distinct code) as distinct_unclassified_codes
from unclassified
group by hospital_code, category, code_system
