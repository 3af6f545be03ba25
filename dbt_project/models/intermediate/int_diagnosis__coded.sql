-- One row per raw diagnosis row, with its code's reference data and class. The coding is
-- diagnosis_coded_rows (macros/coded_categories.sql), which the fact shares.
{{ healthlink.diagnosis_coded_rows(ref('stg_raw__diagnosis')) }}
