-- Which kinds of a patient's fact rows their live consent lets be shown: one row per
-- (patient_key, hospital_code, is_sensitive). A hospital the sender choice allows shows its
-- rows that are not sensitive, and its sensitive rows only with the sensitive-data choice
-- (DESIGN §6). The published fact views on DuckDB are an equi-join of each fact with this
-- view, and the API's DuckDB record reads it once per request instead of once per category
-- (warehouse/api/records.py): one rule, read the same way by both.
select
    allowed.patient_key,
    allowed.hospital_code,
    row_kind.is_sensitive
from {{ ref('int_consent__patient_hospital') }} as allowed
cross join (values (false), (true)) as row_kind (is_sensitive)
where not row_kind.is_sensitive or allowed.sensitive_allowed
