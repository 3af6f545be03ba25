-- One row per raw medication dispense row, with its code's reference data and class. The coding is
-- medication_dispense_coded_rows (macros/coded_categories.sql), which the fact shares.
{{ healthlink.medication_dispense_coded_rows(ref('stg_raw__medication_dispense')) }}
