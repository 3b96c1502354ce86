-- @swan/consent: versioned consent texts and the consent ledger.
--   consent_versions  every published text, immutable; text_sha256 proves the exact words agreed to.
--   client_consents   one row per grant (or recorded refusal) with its proof. History is kept:
--                     rows are never deleted, and only an active row's revocation fields may change.
-- At most one active (unrevoked) row per client and type, by a partial unique index.

create table consent_versions (
  version               varchar(10) primary key
                          check (version ~ '^[0-9]{1,4}(\.[0-9]{1,4}){0,3}$'),
  effective_date        date not null,
  full_text             text not null check (length(full_text) between 1 and 1048576),
  summary               text check (length(summary) <= 10000),
  changes_from_previous text check (length(changes_from_previous) <= 10000),
  requires_re_consent   boolean not null default false,
  -- "newer" means later effective_date, then the higher version number (3.10 > 3.9)
  version_key           int[] generated always as (string_to_array(version, '.')::int[]) stored,
  -- sha256 of full_text's UTF-8 bytes, set by trigger (convert_to is not immutable, so no generated column)
  text_sha256           char(64) not null,
  created_at            timestamptz not null default now()
);

create function swan_consent_versions_guard() returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    new.text_sha256 := encode(sha256(convert_to(new.full_text, 'UTF8')), 'hex');
    new.created_at := now();
    return new;
  end if;
  raise exception 'consent_versions are immutable: % refused (publish a new version instead)', tg_op
    using errcode = 'insufficient_privilege';
end $$;

create trigger consent_versions_guard before insert or update or delete on consent_versions
  for each row execute function swan_consent_versions_guard();
create trigger consent_versions_no_truncate before truncate on consent_versions
  for each statement execute function swan_consent_versions_guard();

create table client_consents (
  id               uuid primary key default gen_random_uuid(),
  -- no cascade: consent records are legal proof and outlive a PII row (erasure crypto-shreds PII)
  client_id        uuid not null references client_profile_pii(client_id),
  consent_version  varchar(10) not null references consent_versions(version),
  consent_type     varchar(50) not null check (consent_type in (
                     'data_collection', 'ai_processing', 'third_party_sharing',
                     'wearable_integration', 'photo_analysis', 'voice_transcription')),
  consent_granted  boolean not null,

  -- proof of consent
  ip_address       inet,
  user_agent       text check (length(user_agent) <= 1024),
  consent_method   varchar(20) not null default 'web_form'
                     check (consent_method in ('web_form', 'email', 'paper', 'verbal')),
  signature_data   text check (octet_length(signature_data) <= 65536),

  -- clock_timestamp(), not now(): a grant that waited for the pair's lock is stamped after the
  -- grant it replaces, so the ledger's order is the order of events
  granted_at       timestamptz not null default clock_timestamp(),
  expires_at       timestamptz check (expires_at > granted_at),
  revoked_at       timestamptz check (revoked_at >= granted_at),
  revoked_reason   text check (length(revoked_reason) <= 1000),

  created_at       timestamptz not null default clock_timestamp(),
  updated_at       timestamptz not null default clock_timestamp(),
  check ((revoked_at is null) = (revoked_reason is null))
);

-- One active consent per client and type; also the index of every hot-path lookup.
create unique index client_consents_one_active on client_consents (client_id, consent_type)
  include (consent_version, consent_granted, expires_at)
  where revoked_at is null;
create index client_consents_client on client_consents (client_id, granted_at desc);
create index client_consents_version on client_consents (consent_version);
create index client_consents_expiring on client_consents (expires_at)
  where expires_at is not null and revoked_at is null;

-- History is kept: no DELETE/TRUNCATE, and an UPDATE may only revoke an active row.
create function swan_client_consents_guard() returns trigger
language plpgsql as $$
begin
  if tg_op = 'UPDATE' and old.revoked_at is null and new.revoked_at is not null
     and (new.id, new.client_id, new.consent_version, new.consent_type, new.consent_granted,
          new.ip_address, new.user_agent, new.consent_method, new.signature_data,
          new.granted_at, new.expires_at, new.created_at)
         is not distinct from
         (old.id, old.client_id, old.consent_version, old.consent_type, old.consent_granted,
          old.ip_address, old.user_agent, old.consent_method, old.signature_data,
          old.granted_at, old.expires_at, old.created_at) then
    new.updated_at := clock_timestamp();
    return new;
  end if;
  raise exception 'client_consents keeps history: % refused (only revoking an active consent is allowed)', tg_op
    using errcode = 'insufficient_privilege';
end $$;

create trigger client_consents_guard before update or delete on client_consents
  for each row execute function swan_client_consents_guard();
create trigger client_consents_no_truncate before truncate on client_consents
  for each statement execute function swan_client_consents_guard();

-- Row-level security. Texts: everyone may read, admins publish. Ledger: admins everything,
-- a client only their own rows (the client's actor id is their client id). Trainers and
-- ai_service read no ledger rows: they learn only "consented or not" via swan_consent_status().
alter table consent_versions enable row level security;
alter table consent_versions force row level security;
create policy consent_versions_read on consent_versions for select to swan_app using (true);
create policy consent_versions_publish on consent_versions for insert to swan_app
  with check (current_setting('app.current_user_role', true) = 'admin');

alter table client_consents enable row level security;
alter table client_consents force row level security;
create policy client_consents_admin on client_consents for all to swan_app
  using (current_setting('app.current_user_role', true) = 'admin')
  with check (current_setting('app.current_user_role', true) = 'admin');
create policy client_consents_own on client_consents for all to swan_app
  using (current_setting('app.current_user_role', true) = 'client'
         and client_id::text = current_setting('app.current_user_id', true))
  with check (current_setting('app.current_user_role', true) = 'client'
         and client_id::text = current_setting('app.current_user_id', true));
-- The owner (who runs the security-definer functions below) reads everything. It could disable
-- row-level security anyway; the application role never owns anything.
create policy consent_versions_owner on consent_versions for select to current_user using (true);
create policy client_consents_owner on client_consents for select to current_user using (true);

-- The guard's one query: the status of a client's active consent of one type at an instant.
--   status: 'valid' | 'none' (no active row) | 'declined' (active row refuses) | 'expired'
--           | 'reconsent' (on a version older than the newest effective version that requires re-consent)
--           | 'inactive' (the client is soft-deleted or erased, whatever the ledger holds)
-- A soft delete shows in the training row's deleted_at (which mirrors the client's), an erasure by
-- the training row gone and the ledger's 'Client erased' withdrawals: it reads no PII table.
-- Reveals no ledger row, so any authenticated caller (and ai_service) may ask.
create function swan_consent_status(p_client uuid, p_type text, p_at timestamptz default now())
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

-- A client's state without reading the PII table (whose row-level security may hide it):
-- 'active', 'deleted' (soft-deleted), 'erased', or null for an unknown client.
create function swan_consent_client_state(p_client uuid) returns text
language sql stable security definer set search_path = public, pg_temp as $$
  select case when erased_at is not null then 'erased'
              when deleted_at is not null then 'deleted'
              else 'active' end
    from client_profile_pii where client_id = p_client
$$;

revoke all on consent_versions, client_consents from public;
revoke all on function swan_consent_status(uuid, text, timestamptz) from public;
revoke all on function swan_consent_client_state(uuid) from public;
grant select, insert (version, effective_date, full_text, summary, changes_from_previous, requires_re_consent)
  on consent_versions to swan_app;
grant select on client_consents to swan_app;
grant insert (client_id, consent_version, consent_type, consent_granted, ip_address, user_agent,
              consent_method, signature_data, expires_at)
  on client_consents to swan_app;
grant update (revoked_at, revoked_reason) on client_consents to swan_app;
grant execute on function swan_consent_status(uuid, text, timestamptz) to swan_app, ai_service;
grant execute on function swan_consent_client_state(uuid) to swan_app;

-- Erasure withdraws every active consent in the erasing transaction (reason "Client erased"); the
-- rows stay as proof of what was agreed to. The trigger function runs with the owner's rights,
-- under this policy: only active rows, only into revoked ones.
create policy client_consents_owner_erasure on client_consents for update to current_user
  using (revoked_at is null) with check (revoked_at is not null);

create function swan_consent_on_erasure() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  update client_consents set revoked_at = clock_timestamp(), revoked_reason = 'Client erased'
   where client_id = new.client_id and revoked_at is null;
  return null;
end $$;
create trigger client_profile_pii_consent_erasure after update of erased_at on client_profile_pii
  for each row when (old.erased_at is null and new.erased_at is not null) execute function swan_consent_on_erasure();
revoke all on function swan_consent_on_erasure() from public;
