-- @swan/checkins: retention of the SMS history (checkinsRetentionRules()).
-- The application role may not delete messages (they are history); these functions remove one
-- batch, as the owner with the checkins_service setting of the row-level security policies for
-- their own duration only, and return the rows removed.
--   swan_checkins_prune_responses   inbound replies received before the cutoff
--   swan_checkins_prune_messages    finished send records (not 'sending': those are in flight)
--                                   last updated before the cutoff and no longer referenced by a reply
create function swan_checkins_prune_responses(cutoff timestamptz, max_rows integer) returns integer
language sql security definer
set search_path = public, pg_temp
set app.current_user_role = 'checkins_service'
as $$
  with gone as (
    delete from checkin_responses where id in (
      select id from checkin_responses where received_at < cutoff limit max_rows for update skip locked)
    returning 1)
  select count(*)::integer from gone
$$;

create function swan_checkins_prune_messages(cutoff timestamptz, max_rows integer) returns integer
language sql security definer
set search_path = public, pg_temp
set app.current_user_role = 'checkins_service'
as $$
  with gone as (
    delete from checkin_messages where event_id in (
      select m.event_id from checkin_messages m
       where m.status <> 'sending' and m.updated_at < cutoff
         and not exists (select 1 from checkin_responses r where r.checkin_event_id = m.event_id)
       limit max_rows for update skip locked)
    returning 1)
  select count(*)::integer from gone
$$;

-- The counts of a dry run: [responses, messages].
create function swan_checkins_count_expired(cutoff timestamptz) returns bigint[]
language sql stable security definer
set search_path = public, pg_temp
set app.current_user_role = 'checkins_service'
as $$
  select array[
    (select count(*) from checkin_responses where received_at < cutoff),
    (select count(*) from checkin_messages m where m.status <> 'sending' and m.updated_at < cutoff
        and not exists (select 1 from checkin_responses r where r.checkin_event_id = m.event_id and r.received_at >= cutoff))]
$$;

revoke all on function swan_checkins_prune_responses(timestamptz, integer), swan_checkins_prune_messages(timestamptz, integer),
  swan_checkins_count_expired(timestamptz) from public;
grant execute on function swan_checkins_prune_responses(timestamptz, integer), swan_checkins_prune_messages(timestamptz, integer),
  swan_checkins_count_expired(timestamptz) to swan_app;
