-- Roles of the Swan SDK. Roles are cluster-wide: created once, never altered here.
--   swan_app   the application's login role: not superuser, not BYPASSRLS, owns nothing.
--              In production give it a password (ALTER ROLE swan_app PASSWORD …) and connect as it.
--   ai_service AI services: training data only, no privilege on PII. swan_app may SET ROLE to it.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'swan_app') then
    create role swan_app login nosuperuser nobypassrls nocreatedb nocreaterole;
  end if;
exception when duplicate_object or unique_violation then null;
end $$;

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'ai_service') then
    create role ai_service nologin nosuperuser nobypassrls nocreatedb nocreaterole;
  end if;
exception when duplicate_object or unique_violation then null;
end $$;

do $$
begin
  if not pg_has_role('swan_app', 'ai_service', 'member') then
    grant ai_service to swan_app;
  end if;
end $$;

grant usage on schema public to swan_app, ai_service;
