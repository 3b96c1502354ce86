-- @swan/billing: Stripe subscriptions mirrored from Stripe, and the processed-event ledger.
--
-- Stripe is the source of truth. Every webhook re-fetches the subscription from Stripe and writes
-- the snapshot here only when it is newer than what is stored (synced_at), so duplicated and
-- out-of-order deliveries converge on Stripe's state. Periods come from the subscription item
-- (current Stripe API versions keep current_period_start/end on items, not on the subscription).
--
-- Row-level security (forced):
--   admin            everything
--   client           reads its own subscriptions (portal, payment links, export)
--   billing_service  the webhook processor and entitlement checks (transaction-local app.current_user_role set by
--                    @swan/billing, never by a request's actor): reads and writes both tables
--   ai_service       no privilege at all

create table client_subscriptions (
  id                          uuid primary key default gen_random_uuid(),
  client_id                   uuid not null references client_profile_pii (client_id),
  tier                        text not null check (tier in ('tier_1', 'tier_2', 'tier_3')),
  status                      text not null check (status in (
                                'incomplete', 'incomplete_expired', 'trialing', 'active',
                                'past_due', 'canceled', 'unpaid', 'paused')),
  stripe_subscription_id      text not null unique,
  stripe_customer_id          text not null,
  stripe_price_id             text not null,
  stripe_subscription_item_id text not null,
  monthly_price_usd           numeric(10, 2) not null,
  billing_cycle_start         timestamptz not null,
  current_period_start        timestamptz not null,
  current_period_end          timestamptz not null,
  cancel_at_period_end        boolean not null default false,
  trial_start                 timestamptz,
  trial_end                   timestamptz,
  canceled_at                 timestamptz,
  ended_at                    timestamptz,
  -- first time this subscription was seen past_due in the current dunning episode (grace period)
  past_due_since              timestamptz,
  -- created time of the newest Stripe event applied, and when the stored snapshot was fetched
  last_event_at               timestamptz not null,
  synced_at                   timestamptz not null,
  created_at                  timestamptz not null default now(),
  updated_at                  timestamptz not null default now()
);

create index client_subscriptions_client on client_subscriptions (client_id, status);

-- Stripe event ids already processed; the insert into it is the idempotency gate and shares the
-- transaction with the effects, so an event is applied exactly once even when deliveries race.
create table stripe_events (
  event_id               text primary key,
  event_type             text not null,
  event_created          timestamptz not null,
  stripe_subscription_id text,
  outcome                text not null,
  processed_at           timestamptz not null default now()
);

create index stripe_events_processed_at on stripe_events (processed_at);

alter table client_subscriptions enable row level security;
alter table client_subscriptions force row level security;
alter table stripe_events enable row level security;
alter table stripe_events force row level security;

create policy subscriptions_admin on client_subscriptions for all
  using (swan_current_user_role() = 'admin') with check (swan_current_user_role() = 'admin');
create policy subscriptions_webhook on client_subscriptions for all
  using (swan_current_user_role() = 'billing_service') with check (swan_current_user_role() = 'billing_service');
create policy subscriptions_client_own on client_subscriptions for select
  using (swan_current_user_role() = 'client' and client_id = swan_current_user_id());

create policy stripe_events_admin on stripe_events for select
  using (swan_current_user_role() = 'admin');
create policy stripe_events_webhook on stripe_events for all
  using (swan_current_user_role() = 'billing_service') with check (swan_current_user_role() = 'billing_service');

-- Nothing more than needed: no delete (history stays; erasure keeps only ids and Stripe refs).
grant select, insert, update on client_subscriptions to swan_app;
grant select, insert on stripe_events to swan_app;

-- The webhook's look-up before the Stripe fetch, in one round trip and no transaction.
-- Answers, for one delivery: was the event processed already, the stored row of its subscription
-- (with its row version, xmin, for the optimistic update that follows), and whether a client id
-- is a known client. A plain SQL function that runs as its caller (swan_app: the grants above
-- apply; ai_service has none) with the billing_service setting of the row-level
-- security policies for its own duration only, exactly what withService(db, 'billing_service')
-- would see, without the BEGIN / set_config / COMMIT round trips of a transaction.
create function swan_billing_webhook_lookup(p_event_id text, p_subscription_id text, p_client_id uuid)
returns table (done boolean, prev jsonb, client_ok boolean)
language sql stable
set search_path = public, pg_temp
set app.current_user_role = 'billing_service'
as $$
  select exists (select 1 from stripe_events where event_id = p_event_id),
         (select to_jsonb(s) || jsonb_build_object('row_version', s.xmin::text)
            from client_subscriptions s where s.stripe_subscription_id = p_subscription_id),
         case when p_client_id is null then null else coalesce(swan_pii_client_exists(p_client_id), false) end
$$;

revoke all on function swan_billing_webhook_lookup(text, text, uuid) from public;
grant execute on function swan_billing_webhook_lookup(text, text, uuid) to swan_app;
