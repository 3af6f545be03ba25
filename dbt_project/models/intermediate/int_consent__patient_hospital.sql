-- THE sender-choice rule (one SQL home): a patient allows hospital H iff the consent is active
-- and (sender_scope = 'ALL', or a patient_sender row names H or H's network). A view over the
-- live consent tables, so withdrawal or a changed list takes effect at once.
-- Written as equi-joins so that a reader's patient_key filter reaches both consent tables and
-- DuckDB hash-joins (it was a cross join with every hospital filtered by an OR-correlated
-- EXISTS): each active patient's choices, as (kind, code) = ('ALL', 'ALL') for ALL or the
-- patient_sender row's, meet each hospital's three keys ('ALL', 'ALL'), ('hospital', its
-- code), ('network', its network); DISTINCT folds a hospital allowed several ways (named and
-- through its network, or ALL with a list; patient_sender has no unique key). Each consent
-- table is read once. Same rows as the old form: tests/dbt/consent_checksum.py keeps it and
-- compares every published view under both, on DuckDB and PostgreSQL.
with hospital_key as (
    select hospital_code, 'ALL' as kind, 'ALL' as code
    from {{ ref('stg_consent__hospital') }}
    union all
    select hospital_code, 'hospital' as kind, hospital_code as code
    from {{ ref('stg_consent__hospital') }}
    union all
    select hospital_code, 'network' as kind, network_code as code
    from {{ ref('stg_consent__hospital') }}
    where network_code is not null
),

choice as (
    select
        patient_consent.patient_key,
        patient_consent.sensitive_allowed,
        case
            when patient_consent.sender_scope = 'ALL' then 'ALL'
            when sender.kind in ('hospital', 'network') then sender.kind
        end as kind,
        case when patient_consent.sender_scope = 'ALL' then 'ALL' else sender.code end as code
    from {{ ref('stg_consent__patient_consent') }} as patient_consent
    left join {{ ref('stg_consent__patient_sender') }} as sender
        on sender.patient_key = patient_consent.patient_key
    where patient_consent.status = 'active'
)

select distinct
    choice.patient_key,
    hospital_key.hospital_code,
    choice.sensitive_allowed
from choice
inner join hospital_key
    on hospital_key.kind = choice.kind
    and hospital_key.code = choice.code
