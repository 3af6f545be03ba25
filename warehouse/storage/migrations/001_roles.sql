-- Service roles (cluster-wide). Created only when missing; a concurrent creator from another
-- database wins the race and we swallow its duplicate. Attributes are re-asserted only when
-- wrong, so parallel migrations do not update the same pg_authid row.
DO $$
DECLARE
    service_role text;
    service_roles text[] := ARRAY[
        'healthlink_loader', 'healthlink_transformer', 'healthlink_api',
        'healthlink_citizen_app', 'healthlink_ops'
    ];
BEGIN
    FOREACH service_role IN ARRAY service_roles LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = service_role) THEN
            BEGIN
                EXECUTE format(
                    'CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB',
                    service_role
                );
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
    FOR service_role IN
        SELECT rolname FROM pg_catalog.pg_roles
        WHERE rolname = ANY (service_roles)
          AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb OR NOT rolcanlogin)
    LOOP
        EXECUTE format(
            'ALTER ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB', service_role
        );
    END LOOP;
END
$$;
