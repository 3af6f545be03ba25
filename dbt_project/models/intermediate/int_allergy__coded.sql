-- One row per raw allergy row: reference drug name, ATC and the drug's class (kept for the
-- unclassified-code report). Allergies are never sensitive, whatever drug they name: a
-- physician must see every allergy before prescribing (DESIGN §6, docs/consent.md). They
-- have no encounter either, so nothing can tag them.
{% set reference_columns %}
        drug.drug_name as reference_drug_name,
        drug.atc_code,
        (drug.drug_code is not null or crosswalk.source_code is not null) as is_code_mapped
{%- endset %}
{{ healthlink.coded_rows(
    'stg_raw__allergy', 'allergy', 'drug_codes', 'drug',
    'drug.drug_code = allergy.drug_code', reference_columns,
    {'column': 'drug_code',
     'native_system': healthlink.drug_code_system('allergy.drug_code'),
     'class_system': "'atc'",
     'class_key': 'drug.atc_code'},
    sensitive=false) }}
