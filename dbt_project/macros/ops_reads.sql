{#- PostgreSQL: a mart the operations role reads (healthlink_ops: `healthlink ops report`
    and the ops page; docs/security.md). Counts only, never patient data: only
    rpt_unmapped_codes calls this (its config). secure_internal forces RLS on every mart with
    a policy for the builder alone, so the grant needs a select policy of its own; both are
    skipped when the role does not exist (a bare test database). USAGE on schema marts is
    migration 015. The report's window (extract_date BETWEEN: a month of 1,100 hospitals is
    ~230,000 of the table's rows, whatever history it holds) reads through the model's
    extract_date index (its `indexes` config: made with the table, so an ordinary incremental
    build takes no lock the page's reads wait on, and a full refresh keeps it). -#}
{% macro ops_reads() -%}
    {{ return(adapter.dispatch('ops_reads', 'healthlink')()) }}
{%- endmacro %}

{% macro default__ops_reads() -%}{%- endmacro %}

{% macro postgres__ops_reads() -%}
    {%- if not execute or model.config.materialized not in ('table', 'incremental') -%}
        {{ return('') }}
    {%- endif %}
    {%- set relation = this.include(database=False) %}
{{ healthlink.grant_if_role_exists('select', this, 'healthlink_ops') }}
do $policy$
begin
    if exists (select from pg_catalog.pg_roles where rolname = 'healthlink_ops')
        and not exists (
            select from pg_catalog.pg_policy
            where polrelid = '{{ relation }}'::regclass and polname = 'ops_reads'
        ) then
        execute 'create policy ops_reads on {{ relation }} for select'
            ' to healthlink_ops using (true)';
    end if;
end
$policy$;
{%- endmacro %}
