{#- The per-visit gate as the API applies it on DuckDB, rendered from the ONE definition (the
    macro) for a published view aliased `gated`. warehouse/api/gate.py compiles this analysis
    and appends the result to its WHERE clauses; nothing else may restate the predicate. -#}
{{ healthlink.per_visit_gate('gated.patient_key', 'gated.hospital_code') }}
