-- Every read through the API leaves one row here. Append-only for the API (grants in 004);
-- the API issue adds its own columns and tables.
CREATE TABLE IF NOT EXISTS audit.access_log (
    access_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    physician_licence VARCHAR,
    physician_hospital_code VARCHAR,
    patient_key VARCHAR,
    action VARCHAR NOT NULL,
    break_glass BOOLEAN NOT NULL DEFAULT false,
    reason VARCHAR
);
