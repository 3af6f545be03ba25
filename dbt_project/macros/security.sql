{#- Database-enforced consent on PostgreSQL (DESIGN §6 "Enforcement", docs/security.md).
    dbt recreates views on every build, and tables (the published row tables only on a full
    refresh: they are incremental), so everything here runs as post-hooks (dbt_project.yml)
    and leaves RLS, FORCE RLS, grants and view options in place after each build. On DuckDB every hook renders to nothing. Role-dependent statements are skipped
    when the role does not exist (a bare test database): the policies still apply to every
    role, so a missing grant only fails closed. -#}

{#- The role the API connects as; it reads published relations only. -#}
{% macro api_role() -%}healthlink_api{%- endmacro %}

{#- GRANT that is a no-op when the grantee role was never created (no migration ran). -#}
{% macro grant_if_role_exists(privileges, object, role) -%}
do $grant$
begin
    if exists (select from pg_catalog.pg_roles where rolname = '{{ role }}') then
        execute 'grant {{ privileges }} on {{ object }} to {{ role }}';
    end if;
end
$grant$;
{%- endmacro %}

{#- The consent predicates as SECURITY DEFINER functions in schema consent: RLS policies run
    with the privileges of the querying role, and the API role may not read consent tables.
    Owned by the role running dbt (the transformer), search_path pinned, STABLE. Bodies are
    rendered from the one definition of each rule: int_consent__patient_hospital (sender
    choice, withdrawal, sensitive choice) and the per_visit_gate macro. Serialised by an
    advisory lock held until the calling model commits: dbt builds models in parallel and
    CREATE OR REPLACE of one function from two sessions would collide. -#}
{% macro create_consent_functions() -%}
    {{ return(adapter.dispatch('create_consent_functions', 'healthlink')()) }}
{%- endmacro %}

{% macro default__create_consent_functions() -%}{%- endmacro %}

{% macro postgres__create_consent_functions() -%}
select pg_advisory_xact_lock(hashtext('healthlink.consent_functions'));

create or replace function consent.row_allowed(
    p_patient_key varchar, p_hospital_code varchar, p_is_sensitive boolean
) returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $body$
    select exists (
        select 1
        from {{ ref('int_consent__patient_hospital').include(database=False) }} as allowed
        where allowed.patient_key = p_patient_key
          and allowed.hospital_code = p_hospital_code
          and (not coalesce(p_is_sensitive, true) or allowed.sensitive_allowed)
    )
$body$;

create or replace function consent.patient_visible(
    p_patient_key varchar, p_known_at varchar[]
) returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $body$
    select exists (
        select 1
        from {{ ref('int_consent__patient_hospital').include(database=False) }} as allowed
        where allowed.patient_key = p_patient_key
          and allowed.hospital_code = any (p_known_at)
    )
$body$;

create or replace function consent.per_visit_gate(
    p_patient_key varchar, p_hospital_code varchar
) returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $body$
    select {{ healthlink.per_visit_gate('p_patient_key', 'p_hospital_code') }}
$body$;

revoke execute on function consent.row_allowed(varchar, varchar, boolean) from public;
revoke execute on function consent.patient_visible(varchar, varchar[]) from public;
revoke execute on function consent.per_visit_gate(varchar, varchar) from public;
{{ healthlink.grant_if_role_exists('execute', 'function consent.row_allowed(varchar, varchar, boolean)', healthlink.api_role()) }}
{{ healthlink.grant_if_role_exists('execute', 'function consent.patient_visible(varchar, varchar[])', healthlink.api_role()) }}
{{ healthlink.grant_if_role_exists('execute', 'function consent.per_visit_gate(varchar, varchar)', healthlink.api_role()) }}
{%- endmacro %}

{#- Post-hook of every published model. Tables hold the rows (protected by RLS), views are
    security_invoker so they filter as the API role, never as their owner. -#}
{% macro secure_published() -%}
    {{ return(adapter.dispatch('secure_published', 'healthlink')()) }}
{%- endmacro %}

{% macro default__secure_published() -%}{%- endmacro %}

{% macro postgres__secure_published() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set policy = model.config.meta.get('row_policy') -%}
    {%- if model.config.materialized == 'view' %}
alter view {{ this }} set (security_invoker = true);
    {%- elif policy %}
{{ healthlink.create_consent_functions() }}
{{ healthlink.apply_row_policy(policy) }}
        {%- if model.config.materialized == 'incremental' %}
{{ healthlink.ensure_builder_policy() }}
        {%- endif %}
    {%- endif %}
revoke all on {{ this }} from public;
{{ healthlink.grant_if_role_exists('select', this, healthlink.api_role()) }}
{%- endmacro %}

{#- RLS, FORCE RLS and the policy consent_allows (for every role, select only) with the
    predicate of `kind`. An incremental build finds them in place: it then changes nothing, so
    it takes none of the ACCESS EXCLUSIVE locks of ALTER TABLE and CREATE POLICY, which would
    hold the API's reads until the model commits. The policy's comment is the md5 of the
    predicate it was created with, so a changed predicate is applied at the next build. -#}
{% macro apply_row_policy(kind) -%}
    {%- set relation = this.include(database=False) %}
do $secure$
declare
    v_predicate constant text := $predicate${{ healthlink.row_policy(kind) }}$predicate$;
begin
    if not exists (
        select
        from pg_catalog.pg_policy as p
        inner join pg_catalog.pg_class as c on c.oid = p.polrelid
        where p.polrelid = '{{ relation }}'::regclass
          and p.polname = 'consent_allows'
          and p.polcmd = 'r' and p.polpermissive and p.polroles = '{0}'
          and c.relrowsecurity and c.relforcerowsecurity
          and pg_catalog.obj_description(p.oid, 'pg_policy') = md5(v_predicate)
    ) then
        execute 'alter table {{ relation }} enable row level security';
        execute 'alter table {{ relation }} force row level security';
        execute 'drop policy if exists consent_allows on {{ relation }}';
        execute format(
            'create policy consent_allows on {{ relation }} for select using (%s)', v_predicate);
        execute format(
            'comment on policy consent_allows on {{ relation }} is %L', md5(v_predicate));
    end if;
end
$secure$;
{%- endmacro %}

{#- Incremental published tables (models/published/rows) are written again by later builds,
    as the role that builds them, through FORCE RLS: a policy for that role alone, for every
    command (consent_allows only lets rows be read, and applies to every role, so the API
    role's rows stay exactly consent_allows's). Created only when missing or for another role,
    so an ordinary run takes no lock that the API's reads would queue behind for the length of
    the build (also the pre-hook of those tables: an older build may have left none). -#}
{% macro ensure_builder_policy() -%}
    {%- set relation = this.include(database=False) %}
do $policy$
begin
    if not exists (
        select from pg_catalog.pg_policy
        where polrelid = '{{ relation }}'::regclass
          and polname = 'builder_writes'
          and (select oid from pg_catalog.pg_roles where rolname = current_user) = any (polroles)
    ) then
        execute 'drop policy if exists builder_writes on {{ relation }}';
        execute format('create policy builder_writes on {{ relation }} to %I using (true) with check (true)', current_user);
    end if;
end
$policy$;
{%- endmacro %}

{#- The row predicates, by kind of published table (model meta row_policy):
    fact     consent (withdrawal, sender choice, sensitive choice) and the per-visit gate;
    patient  consent at one of the hospitals that know the patient (search must find a
             patient before a per-visit grant can be requested). -#}
{% macro row_policy(kind) -%}
    {%- if kind == 'fact' -%}
consent.row_allowed(patient_key, hospital_code, is_sensitive)
and consent.per_visit_gate(patient_key, hospital_code)
    {%- elif kind == 'patient' -%}
consent.patient_visible(patient_key, known_at_hospitals)
    {%- else -%}
    {{ exceptions.raise_compiler_error("row_policy: unknown kind " ~ kind) }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of the intermediate and mart layers: patient data the API must never read, even
    after a stray grant. Tables get FORCE RLS with one policy for the role that builds (and
    incrementally rewrites) them; views check their owner's rights, so need nothing. -#}
{% macro secure_internal() -%}
    {{ return(adapter.dispatch('secure_internal', 'healthlink')()) }}
{%- endmacro %}

{% macro default__secure_internal() -%}{%- endmacro %}

{% macro postgres__secure_internal() -%}
    {%- if not execute or model.config.materialized not in ('table', 'incremental') -%}
        {{ return('') }}
    {%- endif %}
alter table {{ this }} enable row level security;
alter table {{ this }} force row level security;
drop policy if exists builder_only on {{ this }};
create policy builder_only on {{ this }} to current_user using (true) with check (true);
revoke all on {{ this }} from public;
    {%- if this.schema == 'marts' %}
{{ healthlink.purge_by_loader() }}
    {%- endif %}
{%- endmacro %}

{#- The daily purge of rows consent no longer allows (warehouse.consent.purge) runs in
    the sync's prepare step, connected as the loader: it finds and deletes a withdrawn pair's
    rows in marts as it does in raw, where the loader already reads the same rows. Read and
    delete only (no insert or update), marts only (the purge touches raw and marts). -#}
{% macro purge_by_loader() -%}
{{ healthlink.grant_if_role_exists('select, delete', this, 'healthlink_loader') }}
drop policy if exists loader_purge_select on {{ this }};
drop policy if exists loader_purge_delete on {{ this }};
do $policy$
begin
    if exists (select from pg_catalog.pg_roles where rolname = 'healthlink_loader') then
        execute 'create policy loader_purge_select on {{ this }} for select'
            ' to healthlink_loader using (true)';
        execute 'create policy loader_purge_delete on {{ this }} for delete'
            ' to healthlink_loader using (true)';
    end if;
end
$policy$;
{%- endmacro %}
