{#- A published view of one fact: the rows the patient's LIVE consent allows (DESIGN §6):
    consent active, the row's hospital in the patient's sender choice, and sensitive rows only
    with the sensitive-data choice. The per-visit gate is NOT applied here: rows carry
    per_visit_required and the API / RLS apply healthlink.per_visit_gate(). -#}
{% macro publish_fact(fact_model, columns) -%}
select
    {%- for column in columns %}
    fact.{{ column }},
    {%- endfor %}
    hospital.hospital_name,
    hospital.per_visit_consent as per_visit_required
from {{ ref(fact_model) }} as fact
inner join {{ ref('int_consent__patient_hospital') }} as allowed
    on allowed.patient_key = fact.patient_key
    and allowed.hospital_code = fact.hospital_code
inner join {{ ref('stg_consent__hospital') }} as hospital
    on hospital.hospital_code = fact.hospital_code
where not fact.is_sensitive or allowed.sensitive_allowed
{%- endmacro %}

{#- Columns every published row carries: provenance, patient and tags. -#}
{% macro published_lineage_columns() -%}
    {{ return(['hospital_code', 'record_key', 'source_file', 'source_line', 'recorded_at',
               'received_at', 'extract_date', 'batch_id', 'patient_key', 'pid']) }}
{%- endmacro %}

{% macro published_tag_columns() -%}
    {{ return(['is_sensitive', 'sensitivity_category']) }}
{%- endmacro %}

{% macro published_encounter_columns() -%}
    {{ return(['encounter_id', 'encounter_class', 'service_date']) }}
{%- endmacro %}
