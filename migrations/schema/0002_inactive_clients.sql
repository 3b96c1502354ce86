-- Master prompts of a client who is no longer there.
--
-- 1. A soft-deleted or erased client's prompts are hidden from trainers and ai_service, like the
--    training data they are made of (admins, and the client's own export, still see them; a
--    restore shows them again). Their policies ask for the client's live training row (whose
--    deleted_at mirrors the client's, and which erasure deletes), under those roles' own
--    row-level security on client_profile_training: no path from ai_service to the PII table.
-- 2. Erasure deletes every stored version, in the erasing transaction, as it deletes the training
--    row: the prompts are health data under a pseudonym, which erasure must not leave behind.
--    A save checks the client with swan_pii_lock_live_client() (pii/0005), so it can't commit
--    after the erasure deleted the versions.

drop policy master_prompts_trainer_read on client_master_prompts;
create policy master_prompts_trainer_read on client_master_prompts for select
  using (swan_is_assigned_trainer(client_id)
         and exists (select 1 from client_profile_training t
                      where t.client_id = client_master_prompts.client_id and t.deleted_at is null));
drop policy master_prompts_ai_read on client_master_prompts;
create policy master_prompts_ai_read on client_master_prompts for select
  using (swan_current_user_role() = 'ai_service'
         and exists (select 1 from client_profile_training t
                      where t.client_id = client_master_prompts.client_id and t.deleted_at is null));

-- Runs as the table's owner under the admin setting of its (forced) policies, for the call only.
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
