{#- Each category's coding (macros/coded_rows.sql) as a macro over its staged rows, so the
    rule has one home and its readers code only the rows they read: the int_<category>__coded
    views code every staged row; an incremental fact, rpt_unmapped_codes and the views' tests
    code the staged rows of the day being built (coded_relation). `staged_rows` is a relation
    or a parenthesized subquery with the columns of stg_raw__<category>. A category with a
    macro here is found by its name, <category>_coded_rows. -#}

{#- ICD-10-TM names and the code's own class (macros/sensitivity.sql); a SNOMED CT diagnosis
    is classified through its ICD-10 code in code_crosswalk. -#}
{% macro diagnosis_coded_rows(staged_rows) -%}
    {%- set reference_columns %}
        icd10.name_en as diagnosis_name_en,
        icd10.name_th as diagnosis_name_th,
        (icd10.code is not null or crosswalk.source_code is not null) as is_code_mapped
    {%- endset %}
{{ healthlink.coded_rows(
    staged_rows, 'diagnosis', 'icd10_tm', 'icd10',
    'icd10.code = diagnosis.icd10_code', reference_columns,
    {'column': 'icd10_code',
     'native_system': "cast('icd10' as " ~ dbt.type_string() ~ ")",
     'class_system': "'icd10'",
     'class_key': 'diagnosis.icd10_code'}) }}
{%- endmacro %}

{#- Reference drug name, ATC, and the class of that ATC code (antipsychotics, antidepressants,
    addiction treatment, HIV antiretrovirals are sensitive); an RxNorm drug is classified
    through its ATC code in code_crosswalk. -#}
{% macro medication_dispense_coded_rows(staged_rows) -%}
{{ healthlink.drug_coded_rows(staged_rows, 'dispense') }}
{%- endmacro %}

{#- A drug code (a dispense's, an allergy's, alias `source_alias`) against drug_codes: its name,
    its ATC code and the class of that ATC code. -#}
{% macro drug_coded_rows(staged_rows, source_alias, sensitive=true) -%}
    {%- set reference_columns %}
        drug.drug_name as reference_drug_name,
        drug.atc_code,
        (drug.drug_code is not null or crosswalk.source_code is not null) as is_code_mapped
    {%- endset %}
{{ healthlink.coded_rows(
    staged_rows, source_alias, 'drug_codes', 'drug',
    'drug.drug_code = ' ~ source_alias ~ '.drug_code', reference_columns,
    {'column': 'drug_code',
     'native_system': healthlink.drug_code_system(source_alias ~ '.drug_code'),
     'class_system': "'atc'",
     'class_key': 'drug.atc_code'},
    sensitive=sensitive) }}
{%- endmacro %}

{#- Name, LOINC, unit and normal range from the MOPH lab list, and the class of what the test
    tests for (lab_codes.tests_for: HIV, CD4, viral load, syphilis and other STI tests reveal
    the diagnosis); a LOINC test is classified through code_crosswalk. -#}
{% macro lab_result_coded_rows(staged_rows) -%}
    {%- set reference_columns %}
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
    staged_rows, 'lab', 'lab_codes', 'reference',
    'reference.lab_code = lab.lab_code', reference_columns,
    {'column': 'lab_code',
     'native_system': "cast('moph_lab' as " ~ dbt.type_string() ~ ")",
     'class_system': "'lab_test'",
     'class_key': 'reference.tests_for'}) }}
{%- endmacro %}

{#- ICD-9-CM name and the procedure's own class (termination of pregnancy is sensitive;
    routine obstetric care stays visible); a SNOMED CT procedure is classified through
    code_crosswalk (an ICD-9-CM code, or what a test tests for). -#}
{% macro procedure_coded_rows(staged_rows) -%}
    {%- set reference_columns %}
        reference.procedure_name,
        (reference.procedure_code is not null or crosswalk.source_code is not null) as is_code_mapped
    {%- endset %}
{{ healthlink.coded_rows(
    staged_rows, 'performed', 'procedure_codes', 'reference',
    'reference.procedure_code = performed.procedure_code', reference_columns,
    {'column': 'procedure_code',
     'native_system': healthlink.procedure_code_system('performed.procedure_code'),
     'class_system': healthlink.procedure_code_system('performed.procedure_code'),
     'class_key': 'performed.procedure_code'}) }}
{%- endmacro %}

{#- Reference drug name, ATC and the drug's class (kept for the unclassified-code report).
    Allergies are never sensitive, whatever drug they name: a physician must see every
    allergy before prescribing (DESIGN §6, docs/consent.md). They have no encounter either,
    so nothing can tag them. -#}
{% macro allergy_coded_rows(staged_rows) -%}
{{ healthlink.drug_coded_rows(staged_rows, 'allergy', sensitive=false) }}
{%- endmacro %}
