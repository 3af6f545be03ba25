-- The access audit's hash chain (docs/api.md "Audit"). Each row stores
-- row_hash = sha256(prev_hash || canonical row); the API role cannot read the table, so it
-- cannot know prev_hash: it appends through audit.append_access, a SECURITY DEFINER function
-- owned by the migration runner that serialises appenders with a transaction-level advisory
-- lock, numbers rows without gaps and computes the hash. The API gets EXECUTE on it and no
-- privilege on the table itself (no INSERT either: a row written around the function would
-- not be chained). The canonical text is the one warehouse.audit.canonical() produces: a JSON
-- array of the chained columns, no whitespace, timestamps as UTC ISO 8601 with microseconds.
DO $$
DECLARE
    chain_column record;
BEGIN
    FOR chain_column IN
        SELECT * FROM (VALUES
            ('returned_patients', 'varchar'), ('categories', 'varchar'),
            ('source_hospitals', 'varchar'), ('purpose', 'varchar'), ('outcome', 'varchar'),
            ('prev_hash', 'varchar'), ('row_hash', 'varchar')
        ) AS wanted (name, type)
        WHERE NOT EXISTS (
            SELECT FROM pg_catalog.pg_attribute
            WHERE attrelid = 'audit.access_log'::regclass AND attname = wanted.name
              AND NOT attisdropped
        )
    LOOP
        -- ALTER TABLE locks the table: only when the column is really missing.
        EXECUTE format(
            'ALTER TABLE audit.access_log ADD COLUMN %I %s', chain_column.name, chain_column.type
        );
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION audit.append_access(
    p_action varchar, p_outcome varchar, p_physician_licence varchar,
    p_physician_hospital_code varchar, p_patient_key varchar, p_returned_patients varchar,
    p_categories varchar, p_source_hospitals varchar, p_purpose varchar,
    p_break_glass boolean, p_reason varchar
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    v_seq bigint;
    v_prev varchar;
    v_at timestamptz := clock_timestamp();
    v_canonical text;
BEGIN
    IF p_action IS NULL OR p_outcome IS NULL THEN
        RAISE EXCEPTION 'audit row needs an action and an outcome';
    END IF;
    -- Held until the caller's transaction ends: the next appender sees this row's hash.
    PERFORM pg_advisory_xact_lock(hashtext('healthlink.audit'));
    SELECT access_id, row_hash INTO v_seq, v_prev
    FROM audit.access_log ORDER BY access_id DESC LIMIT 1;
    v_seq := coalesce(v_seq, 0) + 1;
    v_prev := coalesce(v_prev, repeat('0', 64));
    v_at := date_trunc('microseconds', v_at);
    v_canonical := '[' || concat_ws(',',
        v_seq::text,
        to_json(to_char(v_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'))::text,
        coalesce(to_json(p_physician_licence)::text, 'null'),
        coalesce(to_json(p_physician_hospital_code)::text, 'null'),
        to_json(p_action)::text,
        coalesce(to_json(p_patient_key)::text, 'null'),
        coalesce(to_json(p_returned_patients)::text, 'null'),
        coalesce(to_json(p_categories)::text, 'null'),
        coalesce(to_json(p_source_hospitals)::text, 'null'),
        coalesce(to_json(p_purpose)::text, 'null'),
        to_json(p_outcome)::text,
        CASE WHEN p_break_glass THEN 'true' ELSE 'false' END,
        coalesce(to_json(p_reason)::text, 'null'),
        to_json(v_prev)::text
    ) || ']';
    INSERT INTO audit.access_log (
        access_id, occurred_at, physician_licence, physician_hospital_code, action,
        patient_key, returned_patients, categories, source_hospitals, purpose, outcome,
        break_glass, reason, prev_hash, row_hash
    ) OVERRIDING SYSTEM VALUE VALUES (
        v_seq, v_at, p_physician_licence, p_physician_hospital_code, p_action,
        p_patient_key, p_returned_patients, p_categories, p_source_hospitals, p_purpose,
        p_outcome, coalesce(p_break_glass, false), p_reason, v_prev,
        encode(sha256(convert_to(v_prev || v_canonical, 'UTF8')), 'hex')
    );
    RETURN v_seq;
END
$body$;

-- The committed head (sequence number and hash) for the export outside the database; the
-- hash of the last row reveals nothing of its content.
CREATE OR REPLACE FUNCTION audit.chain_head(OUT access_id bigint, OUT row_hash varchar)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
    SELECT coalesce(max(log.access_id), 0),
           coalesce((SELECT l.row_hash FROM audit.access_log AS l
                     ORDER BY l.access_id DESC LIMIT 1), repeat('0', 64))
    FROM audit.access_log AS log
$body$;

REVOKE ALL ON FUNCTION audit.append_access(
    varchar, varchar, varchar, varchar, varchar, varchar, varchar, varchar, varchar, boolean,
    varchar
) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit.chain_head() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.append_access(
    varchar, varchar, varchar, varchar, varchar, varchar, varchar, varchar, varchar, boolean,
    varchar
) TO healthlink_api;
GRANT EXECUTE ON FUNCTION audit.chain_head() TO healthlink_api;
-- 004 grants INSERT on every audit table; the access log is written by the function only.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, SELECT, REFERENCES, TRIGGER
    ON audit.access_log FROM healthlink_api;
