-- The access stamp follows the audit chain to its own table (core/0005_audit_links.sql).
--
-- The chainer no longer updates audit entries; it appends their links to swan_audit_chain. The
-- stamp (pii/0003) is therefore copied when links are inserted: the same statement trigger,
-- reading the linked entries by their ids (an index scan of the log, whatever the planner guesses
-- of a transition table), the newest allowed PII_ACCESS per client. The ids are checked once per
-- client, not once per entry.
create or replace function swan_pii_stamp_access() returns trigger
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

drop trigger swan_audit_log_pii_access_stamp on swan_audit_log;
create trigger swan_audit_chain_pii_access_stamp after insert on swan_audit_chain
  referencing new table as linked
  for each statement execute function swan_pii_stamp_access();
