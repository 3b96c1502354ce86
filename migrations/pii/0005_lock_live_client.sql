-- A write that hangs off a client (an assignment, a consent grant, a master prompt) must not
-- commit after that client's erasure. The foreign key's KEY SHARE lock does not conflict with the
-- erasing UPDATE (it changes no key), so such a write checks the client is live with the row
-- locked FOR SHARE until it commits: a racing erasure or soft delete waits for it, or it waits
-- for them and then sees the client gone.
--
-- Security definer, under the admin setting of the PII table's (forced) policies for the call
-- only, so any actor's write can take the lock; it answers one boolean and reveals no column.
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
