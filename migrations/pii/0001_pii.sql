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
);

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

-- True when the current actor is a trainer assigned to the client. Invoker rights: it sees only
-- what the caller's row-level security lets it see (a trainer its own assignments).
create function swan_is_assigned_trainer(p_client_id uuid) returns boolean
language sql stable parallel safe as $$
  select swan_current_user_role() = 'trainer' and exists (
    select 1 from trainer_client_assignments a
     where a.client_id = p_client_id and a.trainer_id = swan_current_user_id())
$$;

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
-- Only an admin may change PII content: a trainer (whose update policy exists for the audited
-- read) may only stamp last_accessed_at / accessed_by.
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
alter table client_profile_pii enable row level security;
alter table client_profile_pii force row level security;
alter table client_data_keys enable row level security;
alter table client_data_keys force row level security;
alter table trainer_client_assignments enable row level security;
alter table trainer_client_assignments force row level security;
alter table client_profile_training enable row level security;
alter table client_profile_training force row level security;
alter table client_aliases enable row level security;
alter table client_aliases force row level security;

create policy pii_admin on client_profile_pii for all
  using (swan_current_user_role() = 'admin') with check (swan_current_user_role() = 'admin');
create policy pii_trainer_read on client_profile_pii for select
  using (swan_is_assigned_trainer(client_id));
create policy pii_trainer_stamp on client_profile_pii for update
  using (swan_is_assigned_trainer(client_id)) with check (swan_is_assigned_trainer(client_id));
create policy pii_client_own on client_profile_pii for select
  using (swan_current_user_role() = 'client' and client_id = swan_current_user_id());

create policy keys_admin on client_data_keys for all
  using (swan_current_user_role() = 'admin') with check (swan_current_user_role() = 'admin');
create policy keys_trainer_read on client_data_keys for select
  using (swan_is_assigned_trainer(client_id));
create policy keys_client_own on client_data_keys for select
  using (swan_current_user_role() = 'client' and client_id = swan_current_user_id());

create policy assignments_admin on trainer_client_assignments for all
  using (swan_current_user_role() = 'admin') with check (swan_current_user_role() = 'admin');
create policy assignments_trainer_own on trainer_client_assignments for select
  using (swan_current_user_role() = 'trainer' and trainer_id = swan_current_user_id());
create policy assignments_client_own on trainer_client_assignments for select
  using (swan_current_user_role() = 'client' and client_id = swan_current_user_id());

create policy training_admin on client_profile_training for all
  using (swan_current_user_role() = 'admin') with check (swan_current_user_role() = 'admin');
create policy training_trainer on client_profile_training for select
  using (deleted_at is null and swan_is_assigned_trainer(client_id));
create policy training_ai on client_profile_training for select
  using (deleted_at is null and swan_current_user_role() = 'ai_service');
create policy training_client_own on client_profile_training for select
  using (swan_current_user_role() = 'client' and client_id = swan_current_user_id());

create policy aliases_admin on client_aliases for all
  using (swan_current_user_role() = 'admin') with check (swan_current_user_role() = 'admin');
create policy aliases_trainer on client_aliases for select
  using (swan_is_assigned_trainer(client_id));
create policy aliases_ai on client_aliases for select
  using (swan_current_user_role() = 'ai_service');
create policy aliases_client_own on client_aliases for select
  using (swan_current_user_role() = 'client' and client_id = swan_current_user_id());

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
