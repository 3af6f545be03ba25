-- One row per raw lab result row, with its code's reference data and class. The coding is
-- lab_result_coded_rows (macros/coded_categories.sql), which the fact shares.
{{ healthlink.lab_result_coded_rows(ref('stg_raw__lab_result')) }}
