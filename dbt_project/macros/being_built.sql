{#- Tests of large models read only what is being built, so a day's tests cost the day, not
    the history (the facts, the staging and coded views over raw, the published views). A test,
    or a folder of tests (dbt_project.yml, `data_tests:`), opts in with a `where` that names a
    scope instead of a condition:
      batches_being_built    rows of the (hospital_code, extract_date) pairs in
                             ops.transform_pending (the pairs this build processes)
      patients_being_built   rows of the patients whose demographics are in those pairs
      hospitals_being_built  rows of the hospitals with a pending pair
    Any other `where` is dbt's own (a condition). This overrides dbt's get_where_subquery, the
    documented place for custom `where` logic; the scopes read the sources (a test's config
    cannot declare a ref), which parsing records as the test's dependencies. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = healthlink.being_built_condition(where, 'tested') -%}
    {%- if scope -%}
        {%- set relation = healthlink.scoped_test_relation(relation) -%}
        {%- do return('(select tested.* from ' ~ relation ~ ' as tested where ' ~ scope ~ ') dbt_subquery') -%}
    {%- elif where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The condition of a being-built scope on the rows aliased `alias`; none for anything else. -#}
{% macro being_built_condition(scope, alias) -%}
    {%- set pending = source('ops', 'transform_pending') -%}
    {%- if scope == 'batches_being_built' -%}
        {%- do return('exists (select 1 from ' ~ pending ~ ' as pending where pending.hospital_code = ' ~ alias
            ~ '.hospital_code and pending.extract_date = ' ~ alias ~ '.extract_date)') -%}
    {%- elif scope == 'patients_being_built' -%}
        {%- do return(alias ~ '.patient_key in (select patient.patient_key from ' ~ source('raw', 'patient')
            ~ ' as patient inner join ' ~ pending ~ ' as pending on pending.hospital_code = patient.hospital_code'
            ~ ' and pending.extract_date = patient.extract_date)') -%}
    {%- elif scope == 'hospitals_being_built' -%}
        {%- do return(alias ~ '.hospital_code in (select pending.hospital_code from ' ~ pending ~ ' as pending)') -%}
    {%- endif -%}
    {%- do return(none) -%}
{%- endmacro %}

{#- What a scoped test reads. PostgreSQL: a published view over a row table (published.<view>:
    `select ... from published.<view>_rows where consent.row_allowed(...)`, macros/publish.sql)
    is tested on that table. PostgreSQL evaluates a view's WHERE at the scan, before any join
    to the pairs being built, so through the view every test called the consent function for
    every row of the history (5 s for one test at 10 hospitals x 30 days, against 0.2 s on an
    empty warehouse). The view's rows are a subset of the table's, column for column, so a
    grain or column test that holds on the table holds on the view. -#}
{% macro scoped_test_relation(relation) -%}
    {%- if execute and target.type == 'postgres' and relation.schema == 'published'
        and not relation.identifier.endswith('_rows') -%}
        {%- set rows = adapter.get_relation(
            database=relation.database, schema=relation.schema,
            identifier=relation.identifier ~ '_rows') -%}
        {%- if rows is not none -%}{{ return(rows) }}{%- endif -%}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
