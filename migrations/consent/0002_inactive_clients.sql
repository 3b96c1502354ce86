-- Consent of a client who is no longer there.
--
-- 1. swan_consent_status() answers 'inactive' for a soft-deleted or erased client, whatever the
--    ledger holds: processing that needs consent stops when the client is deleted (and resumes
--    if an admin restores them), so the guard refuses it. It reads no PII table (ai_service may
--    call it, and has no path to PII): a soft delete shows in the training row's deleted_at, which
--    mirrors the client's; an erasure by the training row gone and the ledger's withdrawals below.
--    An unknown client stays 'none'.
-- 2. Erasure withdraws every active consent, in the erasing transaction (reason "Client erased").
--    The rows stay: they are the proof of what was agreed to while the client existed.
-- 3. A grant checks the client with swan_pii_lock_live_client() (pii/0005), so it can't commit
--    after an erasure that withdrew everything.

create or replace function swan_consent_status(p_client uuid, p_type text, p_at timestamptz default now())
returns table (status text, consented_version text, required_version text, current_version text)
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  today date := (p_at at time zone 'UTC')::date;
  a record;
  req record;
begin
  if exists (select 1 from client_profile_training t where t.client_id = p_client and t.deleted_at is not null) then
    status := 'inactive';
    return next;
    return;
  end if;
  select c.consent_version, c.consent_granted, c.expires_at, v.effective_date, v.version_key
    into a
    from client_consents c join consent_versions v on v.version = c.consent_version
   where c.client_id = p_client and c.consent_type = p_type and c.revoked_at is null;
  select v.version, v.effective_date, v.version_key into req
    from consent_versions v
   where v.requires_re_consent and v.effective_date <= today
   order by v.effective_date desc, v.version_key desc limit 1;
  status := case
    when a.consent_version is null then 'none'
    when not a.consent_granted then 'declined'
    when a.expires_at is not null and a.expires_at <= p_at then 'expired'
    when req.version is not null
         and (a.effective_date, a.version_key) < (req.effective_date, req.version_key) then 'reconsent'
    else 'valid' end;
  -- nothing active: withdrawn by an erasure? (Erasure also deleted the training row, which a live
  -- client always has, so a client revoking with that reason text marks nothing.)
  if status = 'none'
     and not exists (select 1 from client_profile_training t where t.client_id = p_client)
     and exists (select 1 from client_consents c where c.client_id = p_client and c.revoked_reason = 'Client erased') then
    status := 'inactive';
  end if;
  consented_version := a.consent_version;
  required_version := req.version;
  -- the text to show when asking: the newest effective version (looked up only when needed)
  if status <> 'valid' then
    select v.version into current_version from consent_versions v
     where v.effective_date <= today order by v.effective_date desc, v.version_key desc limit 1;
  end if;
  return next;
end $$;

-- The owner revokes on erasure (the trigger below runs with its rights, under forced row-level
-- security): only active rows, only into revoked ones.
create policy client_consents_owner_erasure on client_consents for update to current_user
  using (revoked_at is null) with check (revoked_at is not null);

create function swan_consent_on_erasure() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  update client_consents set revoked_at = clock_timestamp(), revoked_reason = 'Client erased'
   where client_id = new.client_id and revoked_at is null;
  return null;
end $$;
revoke all on function swan_consent_on_erasure() from public;

create trigger client_profile_pii_consent_erasure after update of erased_at on client_profile_pii
  for each row when (old.erased_at is null and new.erased_at is not null)
  execute function swan_consent_on_erasure();
