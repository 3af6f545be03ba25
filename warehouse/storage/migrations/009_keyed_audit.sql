-- The keyed audit chain (docs/security.md "Audit"; warehouse/audit/trail.py). Rows are chained by
-- row_hash = HMAC-SHA256(key, prev_hash || canonical row) with a key that never enters the
-- database: the API computes it. The database only serialises appends: audit.next_link takes
-- the append lock (a transaction-level advisory lock, held until the caller commits) and
-- hands back the next sequence number and the previous hash; audit.append_link re-checks
-- both under that lock and inserts the row the API computed. Both are SECURITY DEFINER,
-- owned by the migration runner; the API role may execute them and has no privilege on the
-- log itself. The unkeyed sha256 rows of 006 stay: the API's first keyed entry is a
-- 'chain_anchor' row that pins the last of them.

-- Unkeyed appends would break the keyed chain: the function of 006 is gone.
DROP FUNCTION IF EXISTS audit.append_access(
    varchar, varchar, varchar, varchar, varchar, varchar, varchar, varchar, varchar, boolean,
    varchar
);

CREATE OR REPLACE FUNCTION audit.next_link(
    OUT next_seq bigint, OUT prev_hash varchar, OUT anchored boolean
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    -- Held until the caller's transaction ends: the next appender sees this one's row.
    PERFORM pg_advisory_xact_lock(hashtext('healthlink.audit'));
    SELECT l.access_id, l.row_hash INTO next_seq, prev_hash
    FROM audit.access_log AS l ORDER BY l.access_id DESC LIMIT 1;
    next_seq := coalesce(next_seq, 0) + 1;
    prev_hash := coalesce(prev_hash, repeat('0', 64));
    anchored := EXISTS (SELECT FROM audit.access_log AS l WHERE l.action = 'chain_anchor');
END
$body$;

CREATE OR REPLACE FUNCTION audit.append_link(
    p_access_id bigint, p_occurred_at timestamptz, p_physician_licence varchar,
    p_physician_hospital_code varchar, p_action varchar, p_patient_key varchar,
    p_returned_patients varchar, p_categories varchar, p_source_hospitals varchar,
    p_purpose varchar, p_outcome varchar, p_break_glass boolean, p_reason varchar,
    p_prev_hash varchar, p_row_hash varchar
) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    v_last_seq bigint;
    v_last_hash varchar;
BEGIN
    IF p_action IS NULL OR p_outcome IS NULL OR p_break_glass IS NULL THEN
        RAISE EXCEPTION 'audit row needs an action, an outcome and the break-glass flag';
    END IF;
    IF p_row_hash IS NULL OR p_row_hash !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'audit row hash must be 64 hex digits';
    END IF;
    -- Re-entrant: a no-op when next_link took it in this transaction, and it serialises a
    -- caller that skipped next_link.
    PERFORM pg_advisory_xact_lock(hashtext('healthlink.audit'));
    SELECT l.access_id, l.row_hash INTO v_last_seq, v_last_hash
    FROM audit.access_log AS l ORDER BY l.access_id DESC LIMIT 1;
    IF p_access_id IS DISTINCT FROM coalesce(v_last_seq, 0) + 1
       OR p_prev_hash IS DISTINCT FROM coalesce(v_last_hash, repeat('0', 64)) THEN
        RAISE EXCEPTION 'audit row does not extend the chain head';
    END IF;
    INSERT INTO audit.access_log (
        access_id, occurred_at, physician_licence, physician_hospital_code, action,
        patient_key, returned_patients, categories, source_hospitals, purpose, outcome,
        break_glass, reason, prev_hash, row_hash
    ) OVERRIDING SYSTEM VALUE VALUES (
        p_access_id, p_occurred_at, p_physician_licence, p_physician_hospital_code, p_action,
        p_patient_key, p_returned_patients, p_categories, p_source_hospitals, p_purpose,
        p_outcome, p_break_glass, p_reason, p_prev_hash, p_row_hash
    );
END
$body$;

REVOKE ALL ON FUNCTION audit.next_link() FROM PUBLIC;
REVOKE ALL ON FUNCTION audit.append_link(
    bigint, timestamptz, varchar, varchar, varchar, varchar, varchar, varchar, varchar, varchar,
    varchar, boolean, varchar, varchar, varchar
) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.next_link() TO healthlink_api;
GRANT EXECUTE ON FUNCTION audit.append_link(
    bigint, timestamptz, varchar, varchar, varchar, varchar, varchar, varchar, varchar, varchar,
    varchar, boolean, varchar, varchar, varchar
) TO healthlink_api;

-- Refusals without an authenticated actor (401s first of all), counted per day, route
-- template and status in audit.refusal_count (warehouse/storage/tables/audit.py). They hold
-- no personal data; the API bumps them through a definer function and reads nothing outside
-- the published views: 004's INSERT on every audit table is taken back here.
REVOKE ALL ON audit.refusal_count FROM healthlink_api;

CREATE OR REPLACE FUNCTION audit.count_refusal(
    p_day date, p_route varchar, p_status_code integer
) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
    INSERT INTO audit.refusal_count AS c (day, route, status_code, refusals)
    VALUES (p_day, p_route, p_status_code, 1)
    ON CONFLICT (day, route, status_code) DO UPDATE SET refusals = c.refusals + 1;
$body$;
REVOKE ALL ON FUNCTION audit.count_refusal(date, varchar, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.count_refusal(date, varchar, integer) TO healthlink_api;
