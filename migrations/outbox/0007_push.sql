-- Push: a worker waiting on LISTEN registers here, and a publish of one due event leases the event to
-- one of them and sends it in a notification on that worker's own channel, so it runs without a claim.
--   channel     the worker's LISTEN channel (only it is woken)
--   event_types the types it handles; null for every type
--   lease_ms    the lease a pushed event gets, as if the worker had claimed it
--   accepting   false while the worker's buffer is full: publishers leave the event pending
--   expires_at  the worker refreshes it; a worker that stopped without removing its row gets nothing after it
create table swan_outbox_listeners (
  worker_id   text primary key check (length(worker_id) <= 200),
  channel     text not null check (channel ~ '^swan_outbox\.[0-9a-f]{16}$'),
  event_types text[],
  lease_ms    integer not null check (lease_ms >= 100),
  accepting   boolean not null default true,
  expires_at  timestamptz not null
);

-- A statement whose events were all pushed has woken the worker it leased them to: it sets
-- swan.outbox_pushed for this statement, and the other workers are not woken for nothing.
create or replace function swan_outbox_notify() returns trigger
language plpgsql as $$
begin
  if current_setting('swan.outbox_pushed', true) = 'on' then
    perform set_config('swan.outbox_pushed', '', true);
  else
    perform pg_notify('swan_outbox', '');
  end if;
  return null;
end $$;

grant select, insert, update, delete on swan_outbox_listeners to swan_app;
revoke all on swan_outbox_listeners from ai_service;
