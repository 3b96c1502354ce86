-- @swan/core: the application role may read which migrations are applied, so that a readiness
-- check running as swan_app can tell a database that `swan migrate` has not brought up to date.
grant select on swan_migrations to swan_app;
