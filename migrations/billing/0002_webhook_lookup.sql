-- @swan/billing: the webhook's look-up before the Stripe fetch in one round trip, no transaction.
--
-- Answers, for one delivery: was the event processed already, the stored row of its subscription
-- (with its row version, xmin, for the optimistic update that follows), and whether a client id
-- is a known client. A plain SQL function that runs as its caller (swan_app: the grants of
-- 0001_billing apply; ai_service has none) with the billing_service setting of the row-level
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
