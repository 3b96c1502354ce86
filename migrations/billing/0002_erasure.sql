-- Erasure of a client (GDPR art. 17) in @swan/billing: the `client_erased` outbox handler cancels
-- the client's Stripe subscriptions, deletes the Stripe customer and then reduces the local rows to
-- what bookkeeping needs (tier, status, price, amounts, period and cancellation dates, the Stripe
-- subscription id that later webhooks are matched by): the customer and subscription-item ids go.
alter table client_subscriptions alter column stripe_customer_id drop not null;
alter table client_subscriptions alter column stripe_subscription_item_id drop not null;

-- Is the client erased? Webhooks for an erased client's subscriptions are acknowledged and change
-- nothing, from the erasure's commit on (before the outbox handler has run, too). Security definer
-- with the admin setting of client_profile_pii's forced policies for the call only; it returns one
-- boolean for one id.
create function swan_billing_client_erased(p_client_id uuid) returns boolean
language sql stable security definer
set search_path = public, pg_temp
set app.current_user_role = 'admin'
as $$
  select exists (select 1 from client_profile_pii where client_id = p_client_id and erased_at is not null)
$$;
revoke all on function swan_billing_client_erased(uuid) from public;
grant execute on function swan_billing_client_erased(uuid) to swan_app;

-- The webhook's look-up (see 0001), now also answering whether the stored row's client is erased.
drop function swan_billing_webhook_lookup(text, text, uuid);
create function swan_billing_webhook_lookup(p_event_id text, p_subscription_id text, p_client_id uuid)
returns table (done boolean, prev jsonb, client_ok boolean, erased boolean)
language sql stable
set search_path = public, pg_temp
set app.current_user_role = 'billing_service'
as $$
  select exists (select 1 from stripe_events where event_id = p_event_id),
         (select to_jsonb(s) || jsonb_build_object('row_version', s.xmin::text)
            from client_subscriptions s where s.stripe_subscription_id = p_subscription_id),
         case when p_client_id is null then null else coalesce(swan_pii_client_exists(p_client_id), false) end,
         coalesce((select swan_billing_client_erased(s.client_id)
                     from client_subscriptions s where s.stripe_subscription_id = p_subscription_id), false)
$$;
revoke all on function swan_billing_webhook_lookup(text, text, uuid) from public;
grant execute on function swan_billing_webhook_lookup(text, text, uuid) to swan_app;
