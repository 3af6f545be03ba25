-- One row per raw allergy row, with its code's reference data and class. The coding is
-- allergy_coded_rows (macros/coded_categories.sql), which the fact shares.
{{ healthlink.allergy_coded_rows(ref('stg_raw__allergy')) }}
