-- @swan/checkins: daily check-ins run on the outbox's stored schedules (swan_outbox_schedules,
-- the ScheduleStore given as createCheckins({ schedules })): one schedule per client and kind,
-- named checkin:<client_id>:<kind>, every day at local_time in timezone. checkin_schedules stays
-- the client's record (export, erasure): kind, local time, time zone and whether it is active.

-- read every client's schedule under the service policy, for this transaction only
select set_config('app.current_user_role', 'checkins_service', true);

-- Active schedules move over. Their queued occurrence (slot next_run_at) stays the queued one:
-- last_slot = next_run_at, so that slot is never published again, and its event takes the
-- schedule's key (schedule:<name>:<slot>) and the payload of the occurrences to come.
insert into swan_outbox_schedules (name, last_slot, cron, timezone, event_type, payload, slot_field, aggregate_type, aggregate_id, active)
select 'checkin:' || client_id || ':' || kind,
       next_run_at,
       split_part(local_time, ':', 2)::int || ' ' || split_part(local_time, ':', 1)::int || ' * * *',
       timezone,
       kind || '_checkin_scheduled',
       jsonb_build_object('clientId', client_id::text, 'timezone', timezone, 'recurring', true, 'localTime', local_time),
       'scheduledFor',
       'client',
       client_id::text,
       true
  from checkin_schedules
 where active and next_run_at is not null
on conflict (name) do nothing;

update swan_outbox o
   set idempotency_key = 'schedule:' || o.idempotency_key,
       payload = o.payload || jsonb_build_object('localTime', s.local_time),
       updated_at = now()
  from checkin_schedules s
 where s.active and s.next_run_at is not null and o.status = 'pending'
   and o.idempotency_key = 'checkin:' || s.client_id || ':' || s.kind || ':'
                           || to_char(s.next_run_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

-- the next run is the outbox's: its queued occurrence (swan_outbox_schedules.last_slot)
alter table checkin_schedules drop column next_run_at;
