-- The access audit's hash chain (docs/api.md "Audit"). The table and its chain columns are
-- defined once, in warehouse/storage/tables/audit.py (warehouse.storage.schema creates them,
-- and adds the chain columns to a log older than the chain). Rows written before migration
-- 009 are chained by row_hash = sha256(prev_hash || canonical row), the canonical text being
-- the one warehouse.audit.trail.canonical() produces (a JSON array of the chained columns, no
-- whitespace, timestamps as UTC ISO 8601 with microseconds); 009 keys the chain and replaces
-- the unkeyed append function this file used to define. The API gets no privilege on the
-- table itself (no INSERT either: a row written around the functions would not be chained).

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

REVOKE ALL ON FUNCTION audit.chain_head() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.chain_head() TO healthlink_api;
-- 004 grants INSERT on every audit table; the access log is written by the function only.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, SELECT, REFERENCES, TRIGGER
    ON audit.access_log FROM healthlink_api;
