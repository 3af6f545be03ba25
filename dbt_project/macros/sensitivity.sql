{#- Sensitivity by class (DESIGN §2 row 9, §6 "Sensitive tagging", docs/consent.md).
    The one classification rule, used by every coded model: a code takes the
    sensitivity_category of the LONGEST code_prefix of its code system in the
    sensitivity_classes seed (N05A beats N, J05AF10 beats J05AF). The result is a category
    (hiv, mental_health, substance_use, sexual_reproductive), 'visible', or null when no class
    knows the code: such rows are counted by rpt_unclassified_codes, never silently trusted.
    A code of another system (SNOMED CT, RxNorm, LOINC) is first crosswalked to one of these
    (code_crosswalk seed, macros/coded_rows.sql). What is classified:
      icd10             the diagnosis code itself
      atc               a drug's ATC code (drug_codes maps each drug code to it)
      lab_test          what a lab test tests for (lab_codes.tests_for)
      icd9cm_procedure  the procedure code itself (2-4 digits)
    Prefixes are compared with substr, not LIKE: '_' in a prefix is a character, not a wildcard. -#}
{% macro code_class(code_system, code_column) -%}
({{ healthlink.code_class_match(code_system, code_column) }})
{%- endmacro %}

{#- The same rule as a one-row query (column code_class), for a lateral join. -#}
{% macro code_class_match(code_system, code_column) -%}
    select class.sensitivity_category as code_class
    from {{ ref('sensitivity_classes') }} as class
    where class.code_system = {{ code_system }}
      and substr({{ code_column }}, 1, {{ dbt.length('class.code_prefix') }}) = class.code_prefix
    order by {{ dbt.length('class.code_prefix') }} desc
    limit 1
{%- endmacro %}

{#- The sensitivity category of a code class: null for 'visible' and for unclassified codes. -#}
{% macro class_sensitivity_category(code_class_column) -%}
    case when {{ code_class_column }} = 'visible' then null else {{ code_class_column }} end
{%- endmacro %}

{#- A coded row's own category (macros/coded_rows.sql, alias `row_alias`): its class's, and
    'unclassified' for a code of another system that no class knows (no crosswalk entry, or a
    hospital-local code). Such a row fails closed: it is hidden as sensitive (and its encounter
    with it, for a diagnosis) until the crosswalk covers it, never shown unflagged (DESIGN §6).
    A native code no class knows stays as before: counted, and tagged by its encounter. -#}
{% macro code_sensitivity_category(row_alias) -%}
    case
        when {{ row_alias }}.code_class is null and {{ row_alias }}.source_code_system is not null
            then 'unclassified'
        else {{ healthlink.class_sensitivity_category(row_alias ~ '.code_class') }}
    end
{%- endmacro %}

{#- Which code system a raw code is written in, by its shape (expectations/suites.py admits
    24-digit and TMT drug codes, ICD-9-CM and 7-digit ICD-10-TM procedure codes). Only the
    systems the classes cover can be classified; TMT drug codes and ICD-10-TM procedure codes
    are reported as unclassified until a mapping exists. -#}
{% macro drug_code_system(code_column) -%}
    case when {{ dbt.length(code_column) }} = 24 then 'drug_24_digit' else 'drug_tmt' end
{%- endmacro %}

{% macro procedure_code_system(code_column) -%}
    case when {{ dbt.length(code_column) }} = 7 then 'icd10tm_procedure' else 'icd9cm_procedure' end
{%- endmacro %}

{#- Final tags of a fact row: its own code's category first, else its encounter's
    (an encounter with ANY sensitive diagnosis makes every row of it sensitive). -#}
{% macro sensitivity_columns(code_category, encounter_category) -%}
    {{ encounter_category }} as encounter_sensitivity_category,
    coalesce({{ code_category }}, {{ encounter_category }}) is not null as is_sensitive,
    coalesce({{ code_category }}, {{ encounter_category }}) as sensitivity_category
{%- endmacro %}
