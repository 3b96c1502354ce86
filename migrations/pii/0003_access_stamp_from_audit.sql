-- The access stamp (last_accessed_at / accessed_by) derived from the audit log, off the read path.
--
-- The audited read used to stamp the PII row in its own statement: one more write of the widest
-- row there is (eight ciphertexts) and its WAL for every read, about a quarter of the database's
-- time under concurrent reads. The audit entry, written in the read's statement and committed
-- before anything is decrypted, is the record of the access; the stamp is a convenience copy of
-- its newest allowed entry. It is now written when the audit chainer links entries: one set-based
-- UPDATE per chained batch (statement trigger with a transition table), the newest access per
-- client, never moving a stamp backwards. The stamp therefore lags the read by the chainer's
-- interval (250 ms by default) and is only as complete as the chain: a host that never links
-- its audit log has no stamps, and `swan audit verify` reports the unlinked entries.

create or replace function swan_pii_audited_read(
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
      select p.client_id, p.full_name, p.preferred_name, p.date_of_birth, p.blood_type,
             p.phone_number, p.email, p.emergency_contact, p.address
        from client_profile_pii p
       where p.client_id = p_client_id and p.deleted_at is null and p.erased_at is null),
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

-- Runs as the owner of the PII table (security definer) under the admin setting of its policies,
-- for the duration of the call only.
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
            from linked n
           where n.resource = 'client_profile_pii' and n.action = 'PII_ACCESS' and n.outcome = 'allowed'
             and n.resource_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
             and n.actor_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
           order by n.resource_id, n.id desc) l
   where p.client_id = l.resource_id::uuid
     and (p.last_accessed_at is null or p.last_accessed_at < l.occurred_at);
  return null;
end $$;
revoke all on function swan_pii_stamp_access() from public;

create trigger swan_audit_log_pii_access_stamp after update on swan_audit_log
  referencing new table as linked
  for each statement execute function swan_pii_stamp_access();

-- Trainers no longer write the PII row at all (their reads stamp through the audit log).
drop policy pii_trainer_stamp on client_profile_pii;
