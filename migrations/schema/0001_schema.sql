-- @swan/schema: versioned client master prompts (schema v3, PII-free by construction: the JSON
-- Schema closes every object, so names, contacts and dates of birth are rejected before a write).
--
-- One row per stored version; rows are never updated or deleted by the application (the history
-- is the change log). Row-level security (forced):
--   admin        reads and writes every client's prompts
--   trainer      reads and writes only clients assigned in trainer_client_assignments
--   ai_service   reads only (database role ai_service)
--   client       reads its own prompts (data-subject export)
-- A soft-deleted or erased client's prompts are hidden from trainers and ai_service, like the
-- training data they are made of: their policies ask for the client's live training row, under
-- their own row-level security on client_profile_training (no path from ai_service to PII).
create table client_master_prompts (
  client_id      uuid not null references client_profile_pii (client_id) on delete cascade,
  version        integer not null check (version >= 1),
  schema_version text not null check (schema_version ~ '^3\.[0-9]+\.[0-9]+$'),
  document       jsonb not null check (jsonb_typeof(document) = 'object'),
  created_at     timestamptz not null default now(),
  created_by     uuid not null,
  created_by_role text not null check (created_by_role in ('admin', 'trainer')),
  primary key (client_id, version)
);

alter table client_master_prompts enable row level security;
alter table client_master_prompts force row level security;

create policy master_prompts_admin on client_master_prompts for all
  using (swan_current_user_role() = 'admin') with check (swan_current_user_role() = 'admin');
create policy master_prompts_trainer_read on client_master_prompts for select
  using (swan_is_assigned_trainer(client_id)
         and exists (select 1 from client_profile_training t
                      where t.client_id = client_master_prompts.client_id and t.deleted_at is null));
create policy master_prompts_trainer_write on client_master_prompts for insert
  with check (swan_is_assigned_trainer(client_id) and created_by = swan_current_user_id());
create policy master_prompts_ai_read on client_master_prompts for select
  using (swan_current_user_role() = 'ai_service'
         and exists (select 1 from client_profile_training t
                      where t.client_id = client_master_prompts.client_id and t.deleted_at is null));
create policy master_prompts_client_own on client_master_prompts for select
  using (swan_current_user_role() = 'client' and client_id = swan_current_user_id());

revoke all on client_master_prompts from public;
grant select, insert on client_master_prompts to swan_app;
grant select on client_master_prompts to ai_service;

-- Erasure deletes every stored version in the erasing transaction (the prompts are health data
-- under a pseudonym). Runs as the table's owner under the admin setting of its (forced) policies,
-- for the call only.
create function swan_master_prompts_on_erasure() returns trigger
language plpgsql security definer
set search_path = public, pg_temp
set app.current_user_role = 'admin'
as $$
begin
  delete from client_master_prompts where client_id = new.client_id;
  return null;
end $$;
revoke all on function swan_master_prompts_on_erasure() from public;

create trigger client_profile_pii_master_prompts_erasure after update of erased_at on client_profile_pii
  for each row when (old.erased_at is null and new.erased_at is not null)
  execute function swan_master_prompts_on_erasure();
