-- Statistics after a load (issue 11; warehouse.pipeline.load.refresh_statistics). The loader
-- re-samples a raw table once a batch changed a good share of it, so the dbt build that
-- follows plans against the new rows. PostgreSQL 15 lets only a table's owner (or the
-- database's owner, or a superuser) ANALYZE it, and for anyone else ANALYZE is skipped with a
-- mere WARNING. The raw tables are the migration runner's and the loader owns none, so the
-- loader analyses through this function: SECURITY DEFINER, owned by the migration runner (the
-- raw tables' owner), search_path pinned, EXECUTE for the loader only.
-- It takes an entity name and analyses raw.<entity> and nothing else: the name is looked up
-- as a value among the ordinary and partitioned tables of schema raw (never parsed as SQL),
-- and the statement names the table by its oid's quoted form.
CREATE OR REPLACE FUNCTION raw.refresh_statistics(p_entity text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    v_table regclass;
    v_owner oid;
BEGIN
    SELECT c.oid::regclass, c.relowner INTO v_table, v_owner
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = 'raw' AND c.relname = p_entity AND c.relkind IN ('r', 'p');
    IF v_table IS NULL THEN
        RAISE EXCEPTION 'refresh_statistics: % is not a raw table', quote_nullable(p_entity)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- ANALYZE would only warn and skip: say so loudly instead (the function's owner is not
    -- the table's, e.g. the table was created by another role after this migration).
    IF NOT (
        pg_catalog.pg_has_role(current_user, v_owner, 'USAGE')
        OR pg_catalog.pg_has_role(
            current_user,
            (SELECT d.datdba FROM pg_catalog.pg_database AS d WHERE d.datname = current_database()),
            'USAGE'
        )
    ) THEN
        RAISE EXCEPTION 'refresh_statistics: % may not analyse %, owned by %',
            current_user, v_table, pg_catalog.pg_get_userbyid(v_owner)
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'run `healthlink migrate` as the owner of the raw tables';
    END IF;
    EXECUTE format('ANALYZE %s', v_table);
END
$body$;

REVOKE ALL ON FUNCTION raw.refresh_statistics(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION raw.refresh_statistics(text) TO healthlink_loader;
