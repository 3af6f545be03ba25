-- Defence in depth on the sources that hold patient data (raw and consent tables with a
-- patient_key): FORCE ROW LEVEL SECURITY with a policy admitting only the services that work
-- on them, so a stray grant to any other role shows no row. Only switched on when off: ALTER
-- TABLE takes an ACCESS EXCLUSIVE lock, which a reader should not wait on every start.
DO $$
DECLARE
    source_table record;
BEGIN
    FOR source_table IN
        SELECT c.oid::regclass AS rel, n.nspname AS schema_name,
               c.relrowsecurity, c.relforcerowsecurity
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('raw', 'consent')
          AND c.relkind IN ('r', 'p')
          AND EXISTS (
              SELECT FROM pg_catalog.pg_attribute AS a
              WHERE a.attrelid = c.oid AND a.attname = 'patient_key' AND NOT a.attisdropped
          )
    LOOP
        IF NOT source_table.relrowsecurity THEN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', source_table.rel);
        END IF;
        IF NOT source_table.relforcerowsecurity THEN
            EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', source_table.rel);
        END IF;
        IF NOT EXISTS (
            SELECT FROM pg_catalog.pg_policy
            WHERE polrelid = source_table.rel AND polname = 'service_roles'
        ) THEN
            EXECUTE format(
                'CREATE POLICY service_roles ON %s TO %s USING (true) WITH CHECK (true)',
                source_table.rel,
                CASE source_table.schema_name
                    WHEN 'raw' THEN 'healthlink_loader, healthlink_transformer'
                    ELSE 'healthlink_loader, healthlink_transformer, healthlink_citizen_app'
                END
            );
        END IF;
    END LOOP;
END
$$;
