-- Erasure beyond raw and marts (issue 9, finding 10; docs/security.md "Erasure"). The purge
-- (warehouse.consent.purge) runs as the loader in the sync's prepare step and deletes
-- a withdrawn or narrowed (patient, hospital) pair from raw and marts itself. Two more stores
-- hold the pair, and the loader has no privilege on either:
--   published.<category>_rows, published.patient_rows  dbt tables owned by the transformer,
--       FORCE RLS with a select-only policy; they would keep the rows until the next dbt build;
--   api.name_key  the API's name-search index (patient key + name fragments), in the API's
--       schema; it would keep them until the API next rebuilds it.
-- This function deletes the pairs from both, in the purge's transaction, and nothing else:
-- the loader gets EXECUTE on it, not DELETE on the tables. Like consent.patient_sources (007)
-- it runs as the migration runner, which must bypass RLS (the database administrator).
-- PL/pgSQL so the body is checked at call time: dbt and the API create these tables later.
-- Returns the rows deleted per relation (counts only, for consent.purge_log).
CREATE OR REPLACE FUNCTION consent.erase_derived_rows(
    p_patient_keys varchar[], p_hospital_codes varchar[]
)
RETURNS TABLE (relation text, deleted bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    v_table record;
    v_count bigint;
BEGIN
    IF cardinality(p_patient_keys) IS DISTINCT FROM cardinality(p_hospital_codes) THEN
        RAISE EXCEPTION 'erase_derived_rows: one hospital code per patient key';
    END IF;
    -- Fact row tables name the hospital in hospital_code; patient_rows in the hospital that
    -- sent the demographics (the name): the same columns the purge reads in marts.
    FOR v_table IN
        SELECT c.oid::regclass AS rel, a.attname AS hospital_column
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND NOT a.attisdropped
            AND a.attname IN ('hospital_code', 'demographics_hospital_code')
        WHERE n.nspname = 'published' AND c.relkind IN ('r', 'p')
          AND c.relname LIKE '%\_rows'
          AND EXISTS (
              SELECT FROM pg_catalog.pg_attribute AS k
              WHERE k.attrelid = c.oid AND k.attname = 'patient_key' AND NOT k.attisdropped)
          AND NOT (a.attname = 'demographics_hospital_code' AND EXISTS (
              SELECT FROM pg_catalog.pg_attribute AS h
              WHERE h.attrelid = c.oid AND h.attname = 'hospital_code' AND NOT h.attisdropped))
        ORDER BY 1
    LOOP
        EXECUTE format(
            'DELETE FROM %s AS t USING unnest($1, $2) AS p(patient_key, hospital_code)'
            ' WHERE t.patient_key = p.patient_key AND t.%I = p.hospital_code',
            v_table.rel, v_table.hospital_column
        ) USING p_patient_keys, p_hospital_codes;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        relation := v_table.rel::text;
        deleted := v_count;
        RETURN NEXT;
    END LOOP;
    -- The name index is keyed by patient only: every key of a purged patient goes, and the
    -- index state is cleared so the API rebuilds it from published.patient (which applies
    -- consent) at its next search. A patient still visible elsewhere is found again then.
    IF to_regclass('api.name_key') IS NOT NULL THEN
        DELETE FROM api.name_key WHERE patient_key = ANY (p_patient_keys);
        GET DIAGNOSTICS v_count = ROW_COUNT;
        relation := 'api.name_key';
        deleted := v_count;
        RETURN NEXT;
    END IF;
    IF to_regclass('api.name_index_state') IS NOT NULL THEN
        DELETE FROM api.name_index_state;
    END IF;
END
$body$;

REVOKE ALL ON FUNCTION consent.erase_derived_rows(varchar[], varchar[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consent.erase_derived_rows(varchar[], varchar[]) TO healthlink_loader;
