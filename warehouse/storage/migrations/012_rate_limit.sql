-- Issue 9 finding 7: request-rate counters shared by every API worker
-- (warehouse/api/limits.py). One row per hashed bucket (an actor or a client address, as a
-- sha256: no token, address or licence in clear), counted by one atomic upsert per request.
-- Created here because the API role runs no DDL on PostgreSQL; DuckDB creates it at start-up.
CREATE TABLE IF NOT EXISTS api.rate_limit (
    bucket varchar PRIMARY KEY,
    window_start timestamp NOT NULL,
    hits integer NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON api.rate_limit TO healthlink_api;
