-- @swan/checkins: Twilio SMS check-ins driven by outbox events.
--
--   checkin_schedules   daily recurring check-ins per client and kind, in the client's IANA zone;
--                       next_run_at is the UTC instant of the one materialized occurrence
--   checkin_contacts    SMS opt-out state per client (STOP / START, Twilio error 21610)
--   checkin_messages    one row per outbox event that asked for an SMS: the idempotency record
--                       (the Twilio message SID once Twilio accepted it) and its send claim
--   checkin_responses   inbound replies, unique by Twilio MessageSid (a replayed webhook stores
--                       nothing twice). The text may carry health data: it stays here, under
--                       row-level security, and never goes into an event.
--
-- Row-level security (forced):
--   admin             everything
--   checkins_service  the outbox handlers and the inbound webhook (transaction-local
--                     app.current_user_role set by @swan/checkins, never by a request's actor)
--   trainer           reads its assigned clients' rows; manages their schedules
--   client            reads its own rows (data-subject export)
--   ai_service        no privilege at all

create table checkin_schedules (
  client_id    uuid not null references client_profile_pii (client_id),
  kind         text not null check (kind in ('morning', 'evening')),
  local_time   text not null check (local_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  timezone     text not null check (length(timezone) between 1 and 64),
  active       boolean not null default true,
  next_run_at  timestamptz,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  primary key (client_id, kind)
);

create table checkin_contacts (
  client_id     uuid primary key references client_profile_pii (client_id),
  opted_out     boolean not null default false,
  -- 'keyword' (STOP/START reply) or 'twilio_21610' (Twilio reported the recipient unsubscribed)
  source        text not null check (source in ('keyword', 'twilio_21610', 'admin')),
  opted_out_at  timestamptz,
  opted_in_at   timestamptz,
  updated_at    timestamptz not null default now()
);

create table checkin_messages (
  event_id       uuid primary key,
  client_id      uuid not null references client_profile_pii (client_id),
  kind           text not null check (kind in ('morning', 'evening')),
  scheduled_for  timestamptz not null,
  status         text not null check (status in ('sending', 'sent', 'opted_out', 'no_phone', 'failed')),
  message_sid    text unique,
  error_code     integer,
  attempts       integer not null default 0,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  -- the send claim of one handler run (taken with `update … where status = 'sending' and
  -- (claimed_until is null or claimed_until < now())`), so a second run of the same event can't
  -- send while the first may still be talking to Twilio; only the run holding claim_token records
  -- the outcome or releases it
  claimed_until  timestamptz,
  claim_token    uuid,
  -- the first send attempt whose outcome is unknown: the next run looks for the message at Twilio
  -- since then and records a match instead of sending again
  unconfirmed_at timestamptz,
  check ((status = 'sent') = (message_sid is not null))
);
create index checkin_messages_client on checkin_messages (client_id, created_at desc);

create table checkin_responses (
  id                 uuid primary key default gen_random_uuid(),
  message_sid        text not null unique,
  client_id          uuid not null references client_profile_pii (client_id),
  -- the latest check-in sent to the client before the reply (null when none was sent)
  checkin_event_id   uuid references checkin_messages (event_id),
  body               text not null,
  keyword            text check (keyword in ('STOP', 'START', 'HELP')),
  received_at        timestamptz not null default now()
);
create index checkin_responses_client on checkin_responses (client_id, received_at desc);

-- Row-level security: the same four policies on every table (admin's and the trainer's scope differ
-- where noted below), written once.
do $$
declare
  t text;
begin
  foreach t in array array['checkin_schedules', 'checkin_contacts', 'checkin_messages', 'checkin_responses'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy %s_service on %I for all
      using (swan_current_user_role() = 'checkins_service') with check (swan_current_user_role() = 'checkins_service')$p$, t, t);
    execute format('create policy %s_trainer_read on %I for select using (swan_is_assigned_trainer(client_id))', t, t);
    execute format($p$create policy %s_client_own on %I for select
      using (swan_current_user_role() = 'client' and client_id = swan_current_user_id())$p$, t, t);
    -- admin: manages schedules and opt-outs; messages and replies are history, read-only
    execute format($p$create policy %s_admin on %I for %s using (swan_current_user_role() = 'admin')%s$p$, t, t,
      case when t in ('checkin_schedules', 'checkin_contacts') then 'all' else 'select' end,
      case when t in ('checkin_schedules', 'checkin_contacts') then $c$ with check (swan_current_user_role() = 'admin')$c$ else '' end);
  end loop;
end $$;

-- an assigned trainer also manages its clients' schedules
create policy checkin_schedules_trainer_write on checkin_schedules for all
  using (swan_is_assigned_trainer(client_id)) with check (swan_is_assigned_trainer(client_id));

-- Nothing more than needed: messages are history (no delete); replies and the opt-out record are
-- deleted on erasure (the `client_erased` handler, under the checkins_service setting).
revoke all on checkin_schedules, checkin_contacts, checkin_messages, checkin_responses from public;
grant select, insert, update, delete on checkin_schedules to swan_app;
grant select, insert, update, delete on checkin_contacts to swan_app;
grant select, insert, update on checkin_messages to swan_app;
grant select, insert, delete on checkin_responses to swan_app;
revoke all on checkin_schedules, checkin_contacts, checkin_messages, checkin_responses from ai_service;
