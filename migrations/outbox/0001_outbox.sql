-- @swan/outbox: the transactional outbox. Events are inserted in the caller's business transaction and handled by
-- workers that claim batches with FOR UPDATE SKIP LOCKED under a lease.
--   status      pending → processing → completed, or back to pending (retry with backoff), or dead
--   attempts    failed handler runs; an expired lease (crashed worker) is NOT a failed attempt
--   lease_owner the worker holding the event while status = 'processing', until locked_until
-- Completed events stay queryable until retention (prune) removes them.
create table swan_outbox (
  id              bigint generated always as identity primary key,
  event_id        uuid not null,
  event_type      text not null check (event_type ~ '^[a-z][a-z0-9_.]{0,99}$'),
  aggregate_type  text not null default '' check (length(aggregate_type) <= 100),
  aggregate_id    text check (length(aggregate_id) <= 200),
  idempotency_key text check (length(idempotency_key) <= 200),
  payload         jsonb not null,
  status          text not null default 'pending'
                  check (status in ('pending', 'processing', 'completed', 'dead')),
  attempts        integer not null default 0 check (attempts >= 0),
  max_attempts    integer not null default 5 check (max_attempts >= 1),
  scheduled_for   timestamptz not null default now(),
  lease_owner     text,
  locked_until    timestamptz,
  last_error      text check (length(last_error) <= 2000),
  last_error_at   timestamptz,
  processed_at    timestamptz,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  -- steps of the current delivery that succeeded (multi-step handlers): a retry resumes after them
  steps_done      smallint not null default 0 check (steps_done >= 0),
  check ((status = 'processing') = (lease_owner is not null and locked_until is not null))
);

-- Publishing the same key twice returns the first event (most events have no key: partial).
create unique index swan_outbox_idempotency on swan_outbox (idempotency_key) where idempotency_key is not null;

-- Claiming: index scans over the small live part of the table, however many completed rows exist.
create index swan_outbox_pending on swan_outbox (scheduled_for, id) where status = 'pending';
create index swan_outbox_leases on swan_outbox (locked_until) where status = 'processing';
create index swan_outbox_dead on swan_outbox (id) where status = 'dead';
-- event_id is a random v4 uuid made by publish; it is looked up for dead events only (redrive).
-- No full unique index on it: every claim and completion writes a new row version, and each full
-- index costs one more index entry per version.
create index swan_outbox_dead_event on swan_outbox (event_id) where status = 'dead';
-- Per-aggregate ordering: the oldest unfinished event of an aggregate.
create index swan_outbox_aggregate on swan_outbox (aggregate_type, aggregate_id, id)
  where status in ('pending', 'processing') and aggregate_id is not null;

-- Wake listening workers once per inserting statement; NOTIFY is delivered at commit, so a rolled
-- back business transaction wakes nobody.
create function swan_outbox_notify() returns trigger
language plpgsql as $$
begin
  perform pg_notify('swan_outbox', '');
  return null;
end $$;

create trigger swan_outbox_notify after insert on swan_outbox
  for each statement execute function swan_outbox_notify();

-- Archive for prune({ archive: true }): same columns and defaults, no identity, no constraints on
-- the live workflow.
create table swan_outbox_archive (like swan_outbox including defaults);
alter table swan_outbox_archive add primary key (id);

-- The application publishes, works and administers events; AI services get nothing.
grant select, insert, update, delete on swan_outbox to swan_app;
grant select, insert on swan_outbox_archive to swan_app;
revoke all on swan_outbox, swan_outbox_archive from ai_service;
