-- @swan/pii: encrypted PII apart from training data.
--
-- Every PII column holds application-level ciphertext (AES-256-GCM, see packages/pii/src/cipher.ts)
-- under a per-client data key; the data key is stored wrapped by a master key (client_data_keys).
-- Email and phone are found through blind indexes (HMAC-SHA-256), never by decrypting.
--
-- Row-level security (forced, so even the table owner's sessions are filtered):
--   admin          everything
--   trainer        only clients assigned in trainer_client_assignments
--   client         its own rows (data-subject export)
--   ai_service     NO privilege on client_profile_pii / client_data_keys (permission denied);
--                  reads client_profile_training and client_aliases
-- Settings come from withActor(): app.current_user_role / app.current_user_id, transaction-local.
--
-- Client creation and audited reads each run as one statement (swan_pii_create,
-- swan_pii_audited_reads); the access stamp (last_accessed_at / accessed_by) is copied from the
-- audit log when the chainer links the read's entry.

create function swan_current_user_id() returns uuid
language sql stable parallel safe as $$
  select nullif(current_setting('app.current_user_id', true), '')::uuid
$$;

create function swan_current_user_role() returns text
language sql stable parallel safe as $$
  select coalesce(current_setting('app.current_user_role', true), '')
$$;

-- ============================================================ PII (ciphertexts only)
create table client_profile_pii (
  client_id         uuid primary key,
  -- ciphertexts (bytea, format v1: see cipher.ts); null only on an erased tombstone
  full_name         bytea,
  preferred_name    bytea,
  date_of_birth     bytea,
  blood_type        bytea,
  phone_number      bytea,
  email             bytea,
  emergency_contact bytea,
  address           bytea,
  -- blind indexes: HMAC-SHA-256 of the normalized email / E.164 phone under SWAN_INDEX_KEY
  email_index       bytea,
  phone_index       bytea,
  -- encryption metadata
  encrypted_at      timestamptz not null default now(),
  encryption_key_id text not null,          -- master key id that wraps the current data key
  -- audit trail
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  last_accessed_at  timestamptz,
  accessed_by       uuid,
  -- soft delete (restorable by an admin) and erasure (crypto-shred, irreversible)
  deleted_at        timestamptz,
  deletion_reason   text,
  erased_at         timestamptz,
  constraint client_profile_pii_live_has_data check (
    erased_at is not null
    or (full_name is not null and date_of_birth is not null and email is not null and email_index is not null)),
  constraint client_profile_pii_erased_is_empty check (
    erased_at is null
    or (full_name is null and preferred_name is null and date_of_birth is null and blood_type is null
        and phone_number is null and email is null and emergency_contact is null and address is null
        and email_index is null and phone_index is null))
) with (fillfactor = 70); -- room on each page, so the chainer's access stamp stays a HOT update

-- " A@x.com" and "a@x.com" normalize to the same index: unique among live rows.
create unique index client_profile_pii_email_live on client_profile_pii (email_index)
  where deleted_at is null and email_index is not null;
create index client_profile_pii_phone_live on client_profile_pii (phone_index)
  where deleted_at is null and phone_index is not null;

-- ============================================================ per-client data keys
create table client_data_keys (
  client_id     uuid not null references client_profile_pii (client_id),
  key_version   integer not null default 1,   -- the "key id" carried by every ciphertext
  master_key_id text not null,                -- which master key wrapped it (rotation)
  wrapped_key   bytea not null,
  created_at    timestamptz not null default now(),
  rewrapped_at  timestamptz,
  primary key (client_id, key_version)
);
create index client_data_keys_master on client_data_keys (master_key_id);

-- ============================================================ assignments
create table trainer_client_assignments (
  trainer_id  uuid not null,
  client_id   uuid not null references client_profile_pii (client_id),
  assigned_at timestamptz not null default now(),
  assigned_by uuid,
  primary key (trainer_id, client_id)
);
create index trainer_client_assignments_client on trainer_client_assignments (client_id);

-- True when the current actor is a trainer assigned to the client; used by the trainer policies of
-- every package. Invoker rights: it sees only what the caller's row-level security lets it see
-- (a trainer its own assignments). A non-trainer returns at the first line.
create function swan_is_assigned_trainer(p_client_id uuid) returns boolean
language plpgsql stable parallel safe as $$
begin
  if swan_current_user_role() <> 'trainer' then
    return false;
  end if;
  return exists (select 1 from trainer_client_assignments a
                  where a.client_id = p_client_id and a.trainer_id = swan_current_user_id());
end $$;

-- ============================================================ training data (no PII)
create table client_profile_training (
  client_id                   uuid primary key references client_profile_pii (client_id),
  age                         integer not null check (age between 0 and 150),
  gender                      varchar(20),
  height_inches               integer,
  weight_lbs                  numeric(5, 2),
  body_fat_percentage         numeric(4, 2),
  bmi                         numeric(4, 2),
  training_goals              jsonb not null default '[]'::jsonb,
  training_start_date         date,
  years_training_experience   integer,
  injury_history              jsonb not null default '[]'::jsonb,
  movement_screen             jsonb not null default '{}'::jsonb,
  current_medications         jsonb not null default '[]'::jsonb,
  supplements                 jsonb not null default '[]'::jsonb,
  allergies                   jsonb not null default '[]'::jsonb,
  wearable_device             varchar(50),
  wearable_integration_active boolean not null default false,
  training_tier               varchar(20),
  session_rate_usd            numeric(7, 2),
  deleted_at                  timestamptz,   -- mirrors the client's soft delete: hidden from non-admins
  created_at                  timestamptz not null default now(),
  updated_at                  timestamptz not null default now()
);
create index client_profile_training_tier on client_profile_training (training_tier);
create index client_profile_training_age_gender on client_profile_training (age, gender);

-- ============================================================ Galaxy-Swan aliases
-- The alias column: a pseudonym that trainers, AI prompts and SMS use instead of the name.
-- Unique among clients that hold one (live, soft-deleted, and erased until their retention
-- window ends, when the row is removed and the alias is free again).
create table client_aliases (
  client_id      uuid primary key references client_profile_pii (client_id),
  alias          text not null,
  alias_ordinal  integer not null check (alias_ordinal >= 1),  -- 1 = "Nebula Swan", 2 = "Nebula Swan II"
  assigned_at    timestamptz not null default now(),
  release_after  timestamptz                                   -- set on erasure
);
create unique index client_aliases_alias on client_aliases (alias);
create index client_aliases_ordinal on client_aliases (alias_ordinal);
create index client_aliases_release on client_aliases (release_after) where release_after is not null;

-- ============================================================ guards
-- Only an admin may change PII content: whatever policies allow a trainer, at most the access
-- stamp (last_accessed_at / accessed_by).
create function swan_pii_guard_update() returns trigger
language plpgsql as $$
begin
  if (
       new.client_id is distinct from old.client_id
    or new.full_name is distinct from old.full_name or new.preferred_name is distinct from old.preferred_name
    or new.date_of_birth is distinct from old.date_of_birth or new.blood_type is distinct from old.blood_type
    or new.phone_number is distinct from old.phone_number or new.email is distinct from old.email
    or new.emergency_contact is distinct from old.emergency_contact or new.address is distinct from old.address
    or new.email_index is distinct from old.email_index or new.phone_index is distinct from old.phone_index
    or new.encryption_key_id is distinct from old.encryption_key_id
    or new.deleted_at is distinct from old.deleted_at or new.erased_at is distinct from old.erased_at
    or new.deletion_reason is distinct from old.deletion_reason) then
    raise exception 'only an admin may change client PII' using errcode = 'insufficient_privilege';
  end if;
  return new;
end $$;
create trigger client_profile_pii_guard before update on client_profile_pii
  for each row when (swan_current_user_role() = 'trainer') execute function swan_pii_guard_update();

-- Existence check for auditing "denied" vs "not found" without revealing any column.
-- Security definer on purpose (a trainer cannot see unassigned rows); it returns only a boolean
-- for a given id and is not executable by ai_service.
create function swan_pii_client_exists(p_client_id uuid) returns boolean
language sql stable security definer set search_path = public, pg_temp as $$
  select exists (select 1 from client_profile_pii
                  where client_id = p_client_id and deleted_at is null and erased_at is null)
$$;

-- ============================================================ row-level security
-- Every table: forced row-level security, admin everything, a client its own rows; then each
-- table's trainer and ai_service policies.
do $$
declare
  t record;
begin
  for t in select * from (values
      ('client_profile_pii', 'pii'), ('client_data_keys', 'keys'), ('trainer_client_assignments', 'assignments'),
      ('client_profile_training', 'training'), ('client_aliases', 'aliases')) as v(name, prefix) loop
    execute format('alter table %I enable row level security', t.name);
    execute format('alter table %I force row level security', t.name);
    execute format($p$create policy %I on %I for all
      using (swan_current_user_role() = 'admin') with check (swan_current_user_role() = 'admin')$p$, t.prefix || '_admin', t.name);
    execute format($p$create policy %I on %I for select
      using (swan_current_user_role() = 'client' and client_id = swan_current_user_id())$p$, t.prefix || '_client_own', t.name);
  end loop;
end $$;

create policy pii_trainer_read on client_profile_pii for select
  using (swan_is_assigned_trainer(client_id));
create policy keys_trainer_read on client_data_keys for select
  using (swan_is_assigned_trainer(client_id));
create policy assignments_trainer_own on trainer_client_assignments for select
  using (swan_current_user_role() = 'trainer' and trainer_id = swan_current_user_id());
create policy training_trainer on client_profile_training for select
  using (deleted_at is null and swan_is_assigned_trainer(client_id));
create policy training_ai on client_profile_training for select
  using (deleted_at is null and swan_current_user_role() = 'ai_service');
create policy aliases_trainer on client_aliases for select
  using (swan_is_assigned_trainer(client_id));
create policy aliases_ai on client_aliases for select
  using (swan_current_user_role() = 'ai_service');

-- ============================================================ grants (nothing more than needed)
revoke all on client_profile_pii, client_data_keys, trainer_client_assignments,
              client_profile_training, client_aliases from public;
revoke all on function swan_pii_client_exists(uuid) from public;

grant select, insert, update on client_profile_pii to swan_app;
grant select, insert, update, delete on client_data_keys to swan_app;
grant select, insert, update, delete on trainer_client_assignments to swan_app;
grant select, insert, update, delete on client_profile_training to swan_app;
grant select, insert, update, delete on client_aliases to swan_app;
grant execute on function swan_pii_client_exists(uuid) to swan_app;

-- ai_service: training data and aliases only. Other packages' policies may look up assignments
-- (it sees no rows there: no policy matches it).
grant select on client_profile_training, client_aliases, trainer_client_assignments to ai_service;
revoke all on client_profile_pii, client_data_keys from ai_service;

-- ============================================================ client creation
-- Creates a client in one statement and one transaction: the PII row (ciphertexts and blind
-- indexes, prepared by the application), the wrapped data key, the training row, the first free
-- Galaxy-Swan alias among the application's candidates and the audit entry. Candidates another
-- in-flight creation is claiming (transaction-scoped advisory lock) are skipped, not waited for.
-- When none is free it raises SQLSTATE SWA01 and writes nothing: the application retries with
-- fresh candidates. Runs as swan_app with the actor's settings confined to the call.
create function swan_pii_create(
  p_actor_id uuid, p_client_id uuid, p_ciphertexts bytea[], p_email_index bytea, p_phone_index bytea,
  p_master_key_id text, p_wrapped_key bytea, p_age integer, p_training jsonb,
  p_alias_names text[], p_alias_ordinals integer[])
returns text language plpgsql volatile
set role = 'swan_app'
set app.current_user_id = ''
set app.current_user_role = ''
as $$
declare
  v_alias text;
begin
  perform set_config('app.current_user_id', p_actor_id::text, true),
          set_config('app.current_user_role', 'admin', true);
  insert into client_profile_pii (client_id, full_name, preferred_name, date_of_birth, blood_type,
                                  phone_number, email, emergency_contact, address,
                                  email_index, phone_index, encryption_key_id)
  values (p_client_id, p_ciphertexts[1], p_ciphertexts[2], p_ciphertexts[3], p_ciphertexts[4],
          p_ciphertexts[5], p_ciphertexts[6], p_ciphertexts[7], p_ciphertexts[8],
          p_email_index, p_phone_index, p_master_key_id);
  insert into client_data_keys (client_id, key_version, master_key_id, wrapped_key)
  values (p_client_id, 1, p_master_key_id, p_wrapped_key);
  insert into client_profile_training (client_id, age, gender, height_inches, weight_lbs, body_fat_percentage, bmi,
    training_goals, training_start_date, years_training_experience, injury_history, movement_screen,
    current_medications, supplements, allergies, wearable_device, wearable_integration_active,
    training_tier, session_rate_usd)
  select p_client_id, p_age, t.gender, t.height_inches, t.weight_lbs, t.body_fat_percentage, t.bmi,
         coalesce(t.training_goals, '[]'), t.training_start_date, t.years_training_experience,
         coalesce(t.injury_history, '[]'), coalesce(t.movement_screen, '{}'),
         coalesce(t.current_medications, '[]'), coalesce(t.supplements, '[]'), coalesce(t.allergies, '[]'),
         t.wearable_device, coalesce(t.wearable_integration_active, false), t.training_tier, t.session_rate_usd
    from jsonb_populate_record(null::client_profile_training, p_training) t;
  insert into client_aliases (client_id, alias, alias_ordinal)
  select p_client_id, c.alias, c.ord
    from unnest(p_alias_names, p_alias_ordinals) with ordinality as c(alias, ord, pos)
   where case when exists (select 1 from client_aliases x where x.alias = c.alias) then false
              else pg_try_advisory_xact_lock(1400332656, hashtext(c.alias)) end
   limit 1
  on conflict (alias) do nothing
  returning alias into v_alias;
  if v_alias is null then
    raise exception 'no free alias among the candidates' using errcode = 'SWA01';
  end if;
  insert into swan_audit_log (actor_id, actor_role, action, resource, resource_id, outcome, reason, details)
  values (p_actor_id::text, 'admin', 'CLIENT_CREATED', 'client_profile_pii', p_client_id::text, 'allowed', null, '{}'::jsonb);
  return v_alias;
end $$;

revoke all on function swan_pii_create(uuid, uuid, bytea[], bytea, bytea, text, bytea, integer, jsonb, text[], integer[]) from public;
grant execute on function swan_pii_create(uuid, uuid, bytea[], bytea, bytea, text, bytea, integer, jsonb, text[], integer[]) to swan_app;

-- ============================================================ audited reads
-- A batch of audited PII reads in one statement: element i (actor, role, client, action, reason)
-- runs under that actor's own settings, so row-level security decides each element for its own
-- actor, and appends its audit entry (allowed, denied or not_found, decided without revealing any
-- column) in the statement's transaction, committed before the application decrypts anything.
-- Each returned row carries ord, the element it answers (1-based): one row per data-key version,
-- or one row with null columns when denied or not found. A role other than admin or trainer fails
-- the whole statement before anything is written. The SET clauses run it as swan_app and restore
-- the caller's settings on exit; p_fast = true commits asynchronously.
create function swan_pii_audited_reads(
  p_actor_ids uuid[], p_actor_roles text[], p_client_ids uuid[], p_actions text[], p_reasons text[],
  p_fast boolean default false)
returns table (
  ord integer, outcome text, client_id uuid,
  full_name bytea, preferred_name bytea, date_of_birth bytea, blood_type bytea,
  phone_number bytea, email bytea, emergency_contact bytea, address bytea,
  key_version integer, master_key_id text, wrapped_key bytea, alias text)
language plpgsql volatile
set role = 'swan_app'
set app.current_user_id = ''
set app.current_user_role = ''
as $$
declare
  n integer := coalesce(array_length(p_client_ids, 1), 0);
begin
  if array_length(p_actor_ids, 1) is distinct from array_length(p_client_ids, 1)
     or array_length(p_actor_roles, 1) is distinct from array_length(p_client_ids, 1)
     or array_length(p_actions, 1) is distinct from array_length(p_client_ids, 1)
     or array_length(p_reasons, 1) is distinct from array_length(p_client_ids, 1) then
    raise exception 'swan_pii_audited_reads: arrays of different lengths' using errcode = 'invalid_parameter_value';
  end if;
  for i in 1 .. n loop
    if p_actor_roles[i] is null or p_actor_roles[i] not in ('admin', 'trainer') then
      raise exception 'swan_pii_audited_reads: role % may not read PII', p_actor_roles[i] using errcode = 'insufficient_privilege';
    end if;
  end loop;
  if p_fast then
    perform set_config('synchronous_commit', 'off', true);
  end if;
  for i in 1 .. n loop
    perform set_config('app.current_user_id', p_actor_ids[i]::text, true),
            set_config('app.current_user_role', p_actor_roles[i], true);
    return query
      with u as (
        select p.client_id, p.full_name, p.preferred_name, p.date_of_birth, p.blood_type,
               p.phone_number, p.email, p.emergency_contact, p.address
          from client_profile_pii p
         where p.client_id = p_client_ids[i] and p.deleted_at is null and p.erased_at is null),
      s as (
        select case when exists (select 1 from u) then 'allowed'
                    when swan_pii_client_exists(p_client_ids[i]) then 'denied' else 'not_found' end as outcome),
      a as (
        insert into swan_audit_log (actor_id, actor_role, action, resource, resource_id, outcome, reason, details)
        select p_actor_ids[i]::text, p_actor_roles[i], p_actions[i], 'client_profile_pii', p_client_ids[i]::text,
               s.outcome, p_reasons[i], '{}'::jsonb
          from s
        returning swan_audit_log.outcome)
      select i, a.outcome, u.client_id, u.full_name, u.preferred_name, u.date_of_birth, u.blood_type,
             u.phone_number, u.email, u.emergency_contact, u.address,
             k.key_version, k.master_key_id, k.wrapped_key, al.alias
        from a
        left join u on true
        left join client_data_keys k on k.client_id = u.client_id
        left join client_aliases al on al.client_id = u.client_id;
  end loop;
end $$;

revoke all on function swan_pii_audited_reads(uuid[], text[], uuid[], text[], text[], boolean) from public;
grant execute on function swan_pii_audited_reads(uuid[], text[], uuid[], text[], text[], boolean) to swan_app;

-- ============================================================ access stamp
-- Copies the newest allowed PII_ACCESS of each client among newly linked audit entries into
-- last_accessed_at / accessed_by, never moving a stamp backwards (statement trigger on the chain's
-- links). Security definer, under the admin setting of the PII table's policies for the call only.
create function swan_pii_stamp_access() returns trigger
language plpgsql security definer
set search_path = public, pg_temp
set app.current_user_id = ''
set app.current_user_role = 'admin'
as $$
begin
  update client_profile_pii p
     set last_accessed_at = l.occurred_at, accessed_by = l.actor_id::uuid
    from (select distinct on (n.resource_id) n.resource_id, n.occurred_at, n.actor_id
            from swan_audit_log n
           where n.id = any (array(select c.entry_id from linked c))
             and n.resource = 'client_profile_pii' and n.action = 'PII_ACCESS' and n.outcome = 'allowed'
           order by n.resource_id, n.id desc
          offset 0) l
   where l.resource_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
     and l.actor_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
     and p.client_id = l.resource_id::uuid
     and (p.last_accessed_at is null or p.last_accessed_at < l.occurred_at);
  return null;
end $$;
revoke all on function swan_pii_stamp_access() from public;

create trigger swan_audit_chain_pii_access_stamp after insert on swan_audit_chain
  referencing new table as linked
  for each statement execute function swan_pii_stamp_access();

-- ============================================================ live-client lock
-- A write that hangs off a client (an assignment, a consent grant, a master prompt) calls this so
-- it can't commit after the client's erasure: the row is locked FOR SHARE until the write commits,
-- so a racing erasure or soft delete waits for it, or it waits for them and then sees the client
-- gone (a foreign key's KEY SHARE lock does not conflict with the erasing UPDATE). Security
-- definer, under the admin setting for the call only; it answers one boolean and reveals no column.
create function swan_pii_lock_live_client(p_client_id uuid) returns boolean
language plpgsql volatile security definer
set search_path = public, pg_temp
set app.current_user_role = 'admin'
as $$
begin
  perform 1 from client_profile_pii
    where client_id = p_client_id and deleted_at is null and erased_at is null
      for share;
  return found;
end $$;
revoke all on function swan_pii_lock_live_client(uuid) from public;
grant execute on function swan_pii_lock_live_client(uuid) to swan_app;
