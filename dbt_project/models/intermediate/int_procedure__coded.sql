-- One row per raw procedure row, with its code's reference data and class. The coding is
-- procedure_coded_rows (macros/coded_categories.sql), which the fact shares.
{{ healthlink.procedure_coded_rows(ref('stg_raw__procedure')) }}
