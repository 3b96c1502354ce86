-- @swan/outbox: poison events and recurring schedules.

-- Leases of an event that expired before its worker completed or failed it (the worker crashed,
-- was killed or stalled). A claim that finds the lease expired counts one; at the worker's
-- maxLeaseExpiries (default 3) the event goes dead with "worker lost N times" instead of being
-- handed to the next worker. Not an attempt: attempts count handler failures only.
alter table swan_outbox add column lease_expiries integer not null default 0 check (lease_expiries >= 0);
alter table swan_outbox_archive add column lease_expiries integer not null default 0;

-- Recurring schedules: one row per schedule name, written by the schedulers of every instance
-- under a row lock. Each occurrence is one swan_outbox event with the idempotency key
-- schedule:<name>:<slot ISO time>, so any number of instances publish it once.
--   last_slot   the latest slot published (the queued next occurrence): slots up to it are never
--               published again, even after retention removed their events
--   cron, …     set for schedules stored at run time (per-client schedules, `setSchedule`); null
--               for schedules given in code (the worker's `schedules` option), whose definition
--               lives in the code of every instance
create table swan_outbox_schedules (
  name           text primary key check (name ~ '^[A-Za-z0-9_.:@-]{1,120}$'),
  last_slot      timestamptz,
  cron           text check (length(cron) <= 200),
  timezone       text check (length(timezone) <= 64),
  event_type     text check (event_type ~ '^[a-z][a-z0-9_.]{0,99}$'),
  payload        jsonb,
  aggregate_type text check (length(aggregate_type) <= 100),
  aggregate_id   text check (length(aggregate_id) <= 200),
  active         boolean not null default true,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  check ((cron is null) = (event_type is null))
);

-- The schedulers' repair pass over stored schedules whose queued occurrence is due.
create index swan_outbox_schedules_stored on swan_outbox_schedules (last_slot) where cron is not null and active;

grant select, insert, update, delete on swan_outbox_schedules to swan_app;
-- retention removes archived events after their window
grant delete on swan_outbox_archive to swan_app;
revoke all on swan_outbox_schedules from ai_service;
