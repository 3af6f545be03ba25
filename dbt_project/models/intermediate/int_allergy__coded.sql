-- One row per raw allergy row: reference drug name, ATC and the drug's class (kept for the
-- unclassified-code report). Allergies are never sensitive, whatever drug they name: a
-- physician must see every allergy before prescribing (DESIGN §6, docs/consent.md). They
-- have no encounter either, so nothing can tag them.
with classified as (
    select
        allergy.*,
        drug.drug_name as reference_drug_name,
        drug.atc_code,
        {{ healthlink.drug_code_system('allergy.drug_code') }} as code_system,
        {{ healthlink.code_class("'atc'", 'drug.atc_code') }} as code_class
    from {{ ref('stg_raw__allergy') }} as allergy
    left join {{ ref('drug_codes') }} as drug
        on drug.drug_code = allergy.drug_code
)

select
    classified.*,
    cast(null as {{ dbt.type_string() }}) as code_sensitivity_category
from classified
