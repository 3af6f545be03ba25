-- What the physician API needs on PostgreSQL beyond SELECT on published relations
-- (docs/security.md, docs/api.md "PostgreSQL").

-- Its own state: schema api is the API role's (002). Its tables are the migration runner's
-- creation (warehouse/storage/tables/api.py, by `healthlink migrate`; the API runs no DDL):
-- the API may use them ...
GRANT USAGE, CREATE ON SCHEMA api TO healthlink_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA api TO healthlink_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA api
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO healthlink_api;
-- ... and owns them, as it owns the tables older releases had it create at start-up. Only
-- when needed: ALTER TABLE takes a strong lock.
DO $$
DECLARE
    api_table record;
BEGIN
    FOR api_table IN
        SELECT c.oid::regclass AS rel
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'api' AND c.relkind IN ('r', 'p')
          AND c.relowner <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'healthlink_api')
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO healthlink_api', api_table.rel);
    END LOOP;
END
$$;

-- At start-up the API checks that the database is migrated to its code (setup_schema: the
-- fingerprint in ops.schema_state). It may read that column and nothing else in ops.
GRANT USAGE ON SCHEMA ops TO healthlink_api;
DO $$
BEGIN
    IF to_regclass('ops.schema_state') IS NOT NULL THEN
        GRANT SELECT (fingerprint) ON ops.schema_state TO healthlink_api;
    END IF;
END
$$;

-- The consent service (run by the API for per-visit requests and the citizen app's
-- decisions, as healthlink_citizen_app) draws event ids from sequences in consent.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA consent TO healthlink_citizen_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA consent
    GRANT USAGE, SELECT ON SEQUENCES TO healthlink_citizen_app;

-- A break-glass opening is recorded as a grant flagged break_glass (so the per-visit gate,
-- and therefore RLS, admits the rows) that lapses when the opening transaction ends.
DO $$
BEGIN
    IF to_regclass('consent.per_visit_grant') IS NOT NULL AND NOT EXISTS (
        SELECT FROM pg_catalog.pg_attribute
        WHERE attrelid = 'consent.per_visit_grant'::regclass AND attname = 'break_glass'
          AND NOT attisdropped
    ) THEN
        ALTER TABLE consent.per_visit_grant ADD COLUMN break_glass boolean NOT NULL DEFAULT false;
    END IF;
END
$$;

-- Which source hospitals hold rows of this patient that consent allows, whether each needs
-- per-visit consent, and whether the gate is open for the current physician
-- (healthlink.physician_licence / _hospital, set by the API per transaction). No clinical
-- data: this lets the record say "data exists at H, ask the patient" although RLS hides H's
-- rows. Reads the RLS-protected published tables as the migration runner, which must bypass
-- RLS (superuser or BYPASSRLS: the database administrator). PL/pgSQL so the body is checked
-- at call time: the tables are built by dbt after this migration.
CREATE OR REPLACE FUNCTION consent.patient_sources(p_patient_key varchar)
RETURNS TABLE (hospital_code varchar, per_visit_required boolean, gate_open boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    RETURN QUERY
    WITH held AS (
        SELECT r.hospital_code, r.per_visit_required, r.is_sensitive
        FROM published.allergy_rows AS r WHERE r.patient_key = p_patient_key
        UNION SELECT r.hospital_code, r.per_visit_required, r.is_sensitive
        FROM published.diagnosis_rows AS r WHERE r.patient_key = p_patient_key
        UNION SELECT r.hospital_code, r.per_visit_required, r.is_sensitive
        FROM published.medication_dispense_rows AS r WHERE r.patient_key = p_patient_key
        UNION SELECT r.hospital_code, r.per_visit_required, r.is_sensitive
        FROM published.immunization_rows AS r WHERE r.patient_key = p_patient_key
        UNION SELECT r.hospital_code, r.per_visit_required, r.is_sensitive
        FROM published.procedure_rows AS r WHERE r.patient_key = p_patient_key
        UNION SELECT r.hospital_code, r.per_visit_required, r.is_sensitive
        FROM published.vital_sign_rows AS r WHERE r.patient_key = p_patient_key
        UNION SELECT r.hospital_code, r.per_visit_required, r.is_sensitive
        FROM published.lab_result_rows AS r WHERE r.patient_key = p_patient_key
        UNION SELECT r.hospital_code, r.per_visit_required, r.is_sensitive
        FROM published.imaging_report_rows AS r WHERE r.patient_key = p_patient_key
        UNION SELECT r.hospital_code, r.per_visit_required, r.is_sensitive
        FROM published.encounter_rows AS r WHERE r.patient_key = p_patient_key
    ), allowed AS (
        SELECT DISTINCT held.hospital_code, held.per_visit_required
        FROM held
        WHERE consent.row_allowed(p_patient_key, held.hospital_code, held.is_sensitive)
    )
    SELECT allowed.hospital_code, coalesce(allowed.per_visit_required, false),
           consent.per_visit_gate(p_patient_key, allowed.hospital_code)
    FROM allowed
    ORDER BY allowed.hospital_code;
END
$body$;

-- Break-glass (DESIGN §6): opens, for the current physician and this transaction only,
-- every per-visit hospital whose gate is closed for this patient, and records each opening as
-- a per_visit_grant flagged break_glass expiring one microsecond after the transaction's
-- start (the gate compares with now(), fixed for the transaction, so later requests are
-- gated again). Returns the opened hospitals. The API audits the read (break_glass = true,
-- the reason) and notifies the patient in the same transaction.
CREATE OR REPLACE FUNCTION consent.open_break_glass(p_patient_key varchar)
RETURNS SETOF varchar
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    v_licence varchar := current_setting('healthlink.physician_licence', true);
    v_hospital varchar := current_setting('healthlink.physician_hospital', true);
    v_now timestamp := now() AT TIME ZONE 'Asia/Bangkok';
    v_source record;
BEGIN
    IF coalesce(v_licence, '') = '' OR coalesce(v_hospital, '') = '' THEN
        RAISE EXCEPTION 'break-glass needs the physician context of the transaction';
    END IF;
    FOR v_source IN
        SELECT s.hospital_code FROM consent.patient_sources(p_patient_key) AS s
        WHERE s.per_visit_required AND NOT s.gate_open
    LOOP
        INSERT INTO consent.per_visit_grant (
            physician_licence, physician_hospital_code, patient_key, source_hospital_code,
            granted_at, expires_at, break_glass
        ) VALUES (
            v_licence, v_hospital, p_patient_key, v_source.hospital_code,
            v_now, v_now + interval '1 microsecond', true
        );
        RETURN NEXT v_source.hospital_code;
    END LOOP;
END
$body$;

-- USAGE lets the API name these functions; it still has no privilege on any consent table.
GRANT USAGE ON SCHEMA consent TO healthlink_api;
REVOKE ALL ON FUNCTION consent.patient_sources(varchar) FROM PUBLIC;
REVOKE ALL ON FUNCTION consent.open_break_glass(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consent.patient_sources(varchar) TO healthlink_api;
GRANT EXECUTE ON FUNCTION consent.open_break_glass(varchar) TO healthlink_api;
