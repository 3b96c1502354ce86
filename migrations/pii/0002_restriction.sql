-- @swan/pii: restriction of processing (GDPR Art. 18).
--
-- client_restrictions holds each client's restriction history: one row per restriction, lifted_at
-- set when it ends; at most one open row per client. While a client has an open restriction its
-- data is kept, but the consent guard, AI and photo routes, check-in scheduling and sending, and
-- ai_service reads refuse (swan_pii_client_restricted is the one check they all ask).
-- The reasons are plain text here (checked by core's text rule); erasure deletes the history.
create table client_restrictions (
  id            bigint generated always as identity primary key,
  client_id     uuid not null references client_profile_pii (client_id),
  restricted_at timestamptz not null default now(),
  restricted_by uuid not null,
  reason        text not null,
  lifted_at     timestamptz,
  lifted_by     uuid,
  lift_reason   text,
  check ((lifted_at is null) = (lifted_by is null) and (lifted_at is null) = (lift_reason is null))
);
create unique index client_restrictions_open on client_restrictions (client_id) where lifted_at is null;
create index client_restrictions_client on client_restrictions (client_id, restricted_at);

alter table client_restrictions enable row level security;
alter table client_restrictions force row level security;
create policy restrictions_admin on client_restrictions for all
  using (swan_current_user_role() = 'admin') with check (swan_current_user_role() = 'admin');
create policy restrictions_client_own on client_restrictions for select
  using (swan_current_user_role() = 'client' and client_id = swan_current_user_id());

revoke all on client_restrictions from public;
grant select, insert, update (lifted_at, lifted_by, lift_reason) on client_restrictions to swan_app;

-- True while the client has an open restriction. Security definer (under the admin setting of the
-- table's policies, for the call only), so any caller — a guard on the application's handle, a
-- check-in service, ai_service — can ask; it answers one boolean and reveals nothing else.
create function swan_pii_client_restricted(p_client_id uuid) returns boolean
language sql stable security definer
set search_path = public, pg_temp
set app.current_user_role = 'admin'
as $$
  select exists (select 1 from client_restrictions where client_id = p_client_id and lifted_at is null)
$$;
revoke all on function swan_pii_client_restricted(uuid) from public;
grant execute on function swan_pii_client_restricted(uuid) to swan_app, ai_service;

-- ai_service sees no training row of a restricted client (and through the master prompts' policy,
-- which asks for a visible training row, no master prompt either).
alter policy training_ai on client_profile_training
  using (deleted_at is null and swan_current_user_role() = 'ai_service' and not swan_pii_client_restricted(client_id));

-- Erasure deletes the restriction history in the erasing transaction (its reasons describe the client).
create function swan_pii_restrictions_on_erasure() returns trigger
language plpgsql security definer
set search_path = public, pg_temp
set app.current_user_role = 'admin'
as $$
begin
  delete from client_restrictions where client_id = new.client_id;
  return null;
end $$;
revoke all on function swan_pii_restrictions_on_erasure() from public;

create trigger client_profile_pii_restrictions_erasure after update of erased_at on client_profile_pii
  for each row when (old.erased_at is null and new.erased_at is not null)
  execute function swan_pii_restrictions_on_erasure();

-- The admin client list pages by (created_at, client_id).
create index client_profile_pii_created on client_profile_pii (created_at, client_id);

-- Rectification of training data by the assigned trainer (the PII stays admin-only).
create policy training_trainer_update on client_profile_training for update
  using (deleted_at is null and swan_is_assigned_trainer(client_id))
  with check (deleted_at is null and swan_is_assigned_trainer(client_id));
