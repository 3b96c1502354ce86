-- The PII read path, made cheap without weakening anything.
--
-- 1. swan_is_assigned_trainer(), used by the trainer policies of every package, becomes PL/pgSQL.
--    As a SQL function with EXISTS it could not be inlined, so PostgreSQL re-planned its body on
--    every call, and row-level security called it for admins and services too (a policy OR is
--    evaluated arm by arm). Now a non-trainer returns at the first line, and a trainer's lookup
--    runs a plan PL/pgSQL keeps per session. Same answer, same invoker rights.
create or replace function swan_is_assigned_trainer(p_client_id uuid) returns boolean
language plpgsql stable parallel safe as $$
begin
  if swan_current_user_role() <> 'trainer' then
    return false;
  end if;
  return exists (select 1 from trainer_client_assignments a
                  where a.client_id = p_client_id and a.trainer_id = swan_current_user_id());
end $$;

-- 2. The audited PII read as one statement: one round trip, and a plan PL/pgSQL keeps per session
-- (an ad-hoc CTE under row-level security was re-planned on every read, which cost more than
-- the read itself).
--
-- The function runs as swan_app with the actor's settings confined to the call: the SET clauses
-- save the caller's values on entry and restore them on exit, so nothing leaks into the caller's
-- transaction or a pooled connection (the same guarantee as withActor(), one level down). It is
-- invoker rights: row-level security decides what the actor sees, and a trainer gets rows of
-- assigned clients only. In one call it stamps last_accessed_at / accessed_by, appends the audit
-- entry (allowed, denied or not_found, decided without revealing any column), and returns the
-- ciphertexts, the wrapped data keys and the alias for the application to decrypt.
-- p_fast = true commits the surrounding (single-statement) transaction asynchronously.
create function swan_pii_audited_read(
  p_actor_id uuid, p_actor_role text, p_client_id uuid, p_action text, p_reason text, p_fast boolean default false)
returns table (
  outcome text, client_id uuid,
  full_name bytea, preferred_name bytea, date_of_birth bytea, blood_type bytea,
  phone_number bytea, email bytea, emergency_contact bytea, address bytea,
  key_version integer, master_key_id text, wrapped_key bytea, alias text)
language plpgsql volatile
set role = 'swan_app'
set app.current_user_id = ''
set app.current_user_role = ''
as $$
begin
  if p_actor_role not in ('admin', 'trainer') then
    raise exception 'swan_pii_audited_read: role % may not read PII', p_actor_role using errcode = 'insufficient_privilege';
  end if;
  perform set_config('app.current_user_id', p_actor_id::text, true),
          set_config('app.current_user_role', p_actor_role, true);
  if p_fast then
    perform set_config('synchronous_commit', 'off', true);
  end if;
  return query
    with u as (
      update client_profile_pii p set last_accessed_at = now(), accessed_by = p_actor_id
       where p.client_id = p_client_id and p.deleted_at is null and p.erased_at is null
      returning p.client_id, p.full_name, p.preferred_name, p.date_of_birth, p.blood_type,
                p.phone_number, p.email, p.emergency_contact, p.address),
    s as (
      select case when exists (select 1 from u) then 'allowed'
                  when swan_pii_client_exists(p_client_id) then 'denied' else 'not_found' end as outcome),
    a as (
      insert into swan_audit_log (actor_id, actor_role, action, resource, resource_id, outcome, reason, details)
      select p_actor_id::text, p_actor_role, p_action, 'client_profile_pii', p_client_id::text, s.outcome, p_reason, '{}'::jsonb
        from s
      returning swan_audit_log.outcome)
    select a.outcome, u.client_id, u.full_name, u.preferred_name, u.date_of_birth, u.blood_type,
           u.phone_number, u.email, u.emergency_contact, u.address,
           k.key_version, k.master_key_id, k.wrapped_key, al.alias
      from a
      left join u on true
      left join client_data_keys k on k.client_id = u.client_id
      left join client_aliases al on al.client_id = u.client_id;
end $$;

revoke all on function swan_pii_audited_read(uuid, text, uuid, text, text, boolean) from public;
grant execute on function swan_pii_audited_read(uuid, text, uuid, text, text, boolean) to swan_app;

-- 3. Client creation as one statement, for the same reasons: the PII row (ciphertexts and blind
-- indexes, prepared by the application), the wrapped data key, the training row, the first free
-- Galaxy-Swan alias among the application's candidates and the audit entry, in one transaction.
-- Candidates another in-flight creation is claiming (transaction-scoped advisory lock) are
-- skipped, not waited for. When none is free the call raises SQLSTATE SWA01 and writes nothing:
-- the application retries with fresh candidates (the next tier when this one is full).
create function swan_pii_create(
  p_actor_id uuid, p_client_id uuid, p_ciphertexts bytea[], p_email_index bytea, p_phone_index bytea,
  p_master_key_id text, p_wrapped_key bytea, p_age integer, p_training jsonb,
  p_alias_names text[], p_alias_ordinals integer[])
returns text
language plpgsql volatile
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
