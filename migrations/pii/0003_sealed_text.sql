-- @swan/pii: free text about a client is sealed under the client's data key.
--
-- Read notes, deletion, erasure and restriction reasons (and, through pii's sealer, other
-- packages' free text such as consent proof) are stored as `swan:sealed:v1:<base64>`: AES-256-GCM
-- under the client's data key, authenticated with the client id and what the value is. Erasure
-- deletes the data key, so it shreds every sealed value, including those in the append-only audit
-- log, whose hash chain covers the ciphertext and so still verifies. Audit entries keep only codes
-- in plaintext: the read purpose, or a record code for changes.

-- The newest data key of a client that is not erased, for sealing. Security definer (under the
-- admin setting of the key table's policies, for the call only): a denied read's note is sealed
-- under the key of a client its actor may not see. It returns the wrapped key only, which opens
-- nothing without the master key.
create function swan_pii_sealing_key(p_client_id uuid)
returns table (key_version integer, master_key_id text, wrapped_key bytea)
language sql stable security definer
set search_path = public, pg_temp
set app.current_user_role = 'admin'
as $$
  select k.key_version, k.master_key_id, k.wrapped_key
    from client_data_keys k join client_profile_pii p on p.client_id = k.client_id
   where k.client_id = p_client_id and p.erased_at is null
   order by k.key_version desc
   limit 1
$$;
revoke all on function swan_pii_sealing_key(uuid) from public;
grant execute on function swan_pii_sealing_key(uuid) to swan_app;

-- The batch of audited reads, now with each element's audit details (the read's sealed note).
-- Element i (actor, role, client, action, purpose, details) runs under that actor's own settings,
-- so row-level security decides each element for its own actor, and appends its audit entry
-- (allowed, denied or not_found, decided without revealing any column) in the statement's
-- transaction, committed before the application decrypts anything. Each returned row carries ord,
-- the element it answers (1-based): one row per data-key version, or one row with null columns
-- when denied or not found. A role other than admin or trainer fails the whole statement before
-- anything is written. The SET clauses run it as swan_app and restore the caller's settings on
-- exit; p_fast = true commits asynchronously.
drop function swan_pii_audited_reads(uuid[], text[], uuid[], text[], text[], boolean);
create function swan_pii_audited_reads(
  p_actor_ids uuid[], p_actor_roles text[], p_client_ids uuid[], p_actions text[], p_reasons text[],
  p_details jsonb[], p_fast boolean default false)
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
     or array_length(p_reasons, 1) is distinct from array_length(p_client_ids, 1)
     or array_length(p_details, 1) is distinct from array_length(p_client_ids, 1) then
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
               s.outcome, p_reasons[i], coalesce(p_details[i], '{}'::jsonb)
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

revoke all on function swan_pii_audited_reads(uuid[], text[], uuid[], text[], text[], jsonb[], boolean) from public;
grant execute on function swan_pii_audited_reads(uuid[], text[], uuid[], text[], text[], jsonb[], boolean) to swan_app;
