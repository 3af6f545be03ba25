-- Code coverage on the operations report and page (issue 13, docs/operations.md), both read
-- as healthlink_ops: USAGE on marts, so it can name marts.rpt_unmapped_codes. SELECT on that
-- one table (and the RLS policy it needs there) is granted by dbt, which rebuilds it
-- (macros/ops_reads.sql); every other marts table stays unreadable to this role.
GRANT USAGE ON SCHEMA marts TO healthlink_ops;
