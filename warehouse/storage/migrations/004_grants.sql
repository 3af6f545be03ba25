-- Grants on what exists now, and default privileges for what the migration runner creates
-- later in the same schemas (raw, consent, ops and audit tables are created by this runner).
-- Published relations are granted by dbt post-hooks, because dbt recreates them.

-- loader: writes raw and ops; reads consent (the consent filter runs at load time) and
-- keeps the registry copy consent.hospital in sync.
GRANT USAGE ON SCHEMA raw, ops, consent TO healthlink_loader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA raw, ops TO healthlink_loader;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA raw, ops TO healthlink_loader;
GRANT SELECT ON ALL TABLES IN SCHEMA consent TO healthlink_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw, ops
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO healthlink_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw, ops GRANT USAGE, SELECT ON SEQUENCES TO healthlink_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA consent GRANT SELECT ON TABLES TO healthlink_loader;
DO $$
BEGIN
    IF to_regclass('consent.hospital') IS NOT NULL THEN
        GRANT INSERT, UPDATE, DELETE ON consent.hospital TO healthlink_loader;
    END IF;
END
$$;

-- transformer: reads the sources, owns the dbt layers (schema ownership, 002). CREATE on
-- consent is for the SECURITY DEFINER predicate functions dbt renders from its macros.
GRANT USAGE ON SCHEMA raw, ops, consent TO healthlink_transformer;
GRANT CREATE ON SCHEMA consent TO healthlink_transformer;
GRANT SELECT ON ALL TABLES IN SCHEMA raw, ops, consent TO healthlink_transformer;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw, ops, consent
    GRANT SELECT ON TABLES TO healthlink_transformer;

-- api: published relations only (granted per relation by dbt), append-only audit, its schema.
GRANT USAGE ON SCHEMA published, audit TO healthlink_api;
GRANT INSERT ON ALL TABLES IN SCHEMA audit TO healthlink_api;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA audit TO healthlink_api;
REVOKE SELECT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA audit FROM healthlink_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT INSERT ON TABLES TO healthlink_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT USAGE ON SEQUENCES TO healthlink_api;
-- The predicate functions dbt creates in consent must not be callable by everyone.
ALTER DEFAULT PRIVILEGES FOR ROLE healthlink_transformer IN SCHEMA consent
    REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- citizen app: the patient's own consent choices and per-visit approvals.
GRANT USAGE ON SCHEMA consent TO healthlink_citizen_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA consent TO healthlink_citizen_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA consent TO healthlink_citizen_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA consent
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO healthlink_citizen_app;
DO $$
BEGIN
    IF to_regclass('consent.hospital') IS NOT NULL THEN
        -- the registry is the hospitals' YAML, not the patient's to edit
        REVOKE INSERT, UPDATE, DELETE ON consent.hospital FROM healthlink_citizen_app;
    END IF;
END
$$;

-- ops: reads the ops tables and the audit trail (break-glass review).
GRANT USAGE ON SCHEMA ops, audit TO healthlink_ops;
GRANT SELECT ON ALL TABLES IN SCHEMA ops, audit TO healthlink_ops;
ALTER DEFAULT PRIVILEGES IN SCHEMA ops, audit GRANT SELECT ON TABLES TO healthlink_ops;
