-- One row per raw allergy row: reference drug name, ATC and the drug's class (kept for the
-- unclassified-code report). Allergies are never sensitive, whatever drug they name: a
-- physician must see every allergy before prescribing (DESIGN §6, docs/consent.md). They
-- have no encounter either, so nothing can tag them.
{% set reference_columns %}
        drug.drug_name as reference_drug_name,
        drug.atc_code,
        {{ healthlink.drug_code_system('allergy.drug_code') }} as code_system,
        {{ healthlink.code_class("'atc'", 'drug.atc_code') }} as code_class
{%- endset %}
{{ healthlink.coded_rows(
    'stg_raw__allergy', 'allergy', 'drug_codes', 'drug',
    'drug.drug_code = allergy.drug_code', reference_columns, sensitive=false) }}
