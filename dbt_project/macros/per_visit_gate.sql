{#- THE per-visit consent predicate (DESIGN §6: defined once, used by the PostgreSQL RLS
    policies and by the API's queries on DuckDB). True when the source hospital does not
    require per-visit consent, or the current physician (licence + the hospital they work at
    now) holds an unexpired grant from this patient for this source hospital.
    It reads the live consent tables directly because it is also rendered outside models
    (RLS policies), where staging views are not the contract. Names are schema-qualified
    only: function bodies are stored as text, and a copy of the database under another
    name (a restored backup, CREATE DATABASE ... TEMPLATE) must still resolve them. -#}
{% macro per_visit_gate(patient_key_col, hospital_code_col) -%}
(
    not coalesce((
        select gate_hospital.per_visit_consent
        from {{ source('consent', 'hospital').include(database=False) }} as gate_hospital
        where gate_hospital.hospital_code = {{ hospital_code_col }}
    ), false)
    or exists (
        select 1
        from {{ source('consent', 'per_visit_grant').include(database=False) }} as gate_grant
        where gate_grant.physician_licence = {{ healthlink.current_physician_licence() }}
          and gate_grant.physician_hospital_code = {{ healthlink.current_physician_hospital() }}
          and gate_grant.patient_key = {{ patient_key_col }}
          and gate_grant.source_hospital_code = {{ hospital_code_col }}
          and gate_grant.expires_at > {{ healthlink.local_now() }}
    )
)
{%- endmacro %}
