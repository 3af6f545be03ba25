-- One row per raw allergy row: reference drug name, ATC, and the drug's sensitivity (an
-- allergy to an antiretroviral reveals HIV). Allergies have no encounter.
select
    allergy.*,
    drug.drug_name as reference_drug_name,
    drug.atc_code,
    {{ healthlink.code_sensitivity_category('drug', 'allergy.drug_code') }} as code_sensitivity_category
from {{ ref('stg_raw__allergy') }} as allergy
left join {{ ref('drug_codes') }} as drug
    on drug.drug_code = allergy.drug_code
