-- @swan/consent: identifying consent proof is sealed under the client's data key, and erasure
-- leaves none of it in plaintext.
--
-- With a sealer configured (createConsent({ sealer: pii.sealer })), the IP address, user agent,
-- signature data and a client's own revocation reason are stored as `swan:sealed:v1:<base64>`
-- (text) under the client's data key, so erasure, which shreds the key, shreds them. The ledger
-- keeps what proves the consent: the type, the version (whose text and SHA-256 stay in
-- consent_versions), granted or refused, and when it was granted, expired or revoked.
alter table client_consents alter column ip_address type text using host(ip_address);
alter table client_consents drop constraint if exists client_consents_user_agent_check;
alter table client_consents drop constraint if exists client_consents_signature_data_check;
alter table client_consents drop constraint if exists client_consents_revoked_reason_check;
-- room for the sealed forms of the largest accepted values (1,024-character user agent, 64 KiB
-- signature, 1,000-character reason): base64 of the UTF-8 bytes plus a 33-byte header and tag
alter table client_consents add constraint client_consents_ip_address_size check (length(ip_address) <= 200),
  add constraint client_consents_user_agent_size check (octet_length(user_agent) <= 6000),
  add constraint client_consents_signature_data_size check (octet_length(signature_data) <= 90000),
  add constraint client_consents_revoked_reason_size check (octet_length(revoked_reason) <= 6000);

-- History is kept: no DELETE/TRUNCATE; an UPDATE may revoke an active row, or, once the client is
-- erased, clear the row's identifying proof (IP address, user agent, signature data) and replace a
-- plaintext revocation reason. Type, version, decision and timestamps never change.
create or replace function swan_client_consents_guard() returns trigger
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
  if tg_op = 'UPDATE' and swan_consent_client_state(old.client_id) = 'erased'
     and (new.id, new.client_id, new.consent_version, new.consent_type, new.consent_granted,
          new.consent_method, new.granted_at, new.expires_at, new.revoked_at, new.created_at)
         is not distinct from
         (old.id, old.client_id, old.consent_version, old.consent_type, old.consent_granted,
          old.consent_method, old.granted_at, old.expires_at, old.revoked_at, old.created_at)
     and new.ip_address is null and new.user_agent is null and new.signature_data is null then
    new.updated_at := clock_timestamp();
    return new;
  end if;
  raise exception 'client_consents keeps history: % refused (only revoking an active consent is allowed)', tg_op
    using errcode = 'insufficient_privilege';
end $$;

-- Erasure, in the erasing transaction: withdraws every active consent (reason "Client erased"),
-- then clears every row's proof (sealed or written in plaintext before sealing or without a
-- sealer) and replaces any plaintext revocation reason other than the fixed ones with
-- "Consent withdrawn". The rows stay as proof of what was agreed to and when.
create policy client_consents_owner_erasure_scrub on client_consents for update to current_user
  using (revoked_at is not null) with check (revoked_at is not null);

create or replace function swan_consent_on_erasure() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  update client_consents set revoked_at = clock_timestamp(), revoked_reason = 'Client erased'
   where client_id = new.client_id and revoked_at is null;
  update client_consents
     set ip_address = null, user_agent = null, signature_data = null,
         revoked_reason = case
           when revoked_reason in ('Client erased', 'Replaced by new consent', 'Consent withdrawn')
                or revoked_reason like 'swan:sealed:v1:%' then revoked_reason
           else 'Consent withdrawn' end
   where client_id = new.client_id;
  return null;
end $$;
revoke all on function swan_consent_on_erasure() from public;
