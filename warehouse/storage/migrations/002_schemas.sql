-- One schema per layer. dbt's layers (and the seeds in reference) belong to the transformer,
-- which rebuilds them; the API owns only its own state.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS intermediate;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS published;
CREATE SCHEMA IF NOT EXISTS reference;
CREATE SCHEMA IF NOT EXISTS consent;
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS ops;
CREATE SCHEMA IF NOT EXISTS api;

ALTER SCHEMA staging OWNER TO healthlink_transformer;
ALTER SCHEMA intermediate OWNER TO healthlink_transformer;
ALTER SCHEMA marts OWNER TO healthlink_transformer;
ALTER SCHEMA published OWNER TO healthlink_transformer;
ALTER SCHEMA reference OWNER TO healthlink_transformer;
ALTER SCHEMA api OWNER TO healthlink_api;

REVOKE ALL ON SCHEMA raw, staging, intermediate, marts, published, reference, consent, audit,
    ops, api FROM PUBLIC;
