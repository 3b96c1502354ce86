-- Erasure of a client (GDPR art. 17) in @swan/billing: the `client_erased` outbox handler cancels
-- the client's Stripe subscriptions, deletes the Stripe customer and then reduces the local rows to
-- what bookkeeping needs (tier, status, price, amounts, period and cancellation dates, the Stripe
-- subscription id that later webhooks are matched by): the customer and subscription-item ids go.
alter table client_subscriptions alter column stripe_customer_id drop not null;
alter table client_subscriptions alter column stripe_subscription_item_id drop not null;

-- Is the client erased? Webhooks for an erased client's subscriptions are acknowledged and change
-- nothing, from the erasure's commit on (before the outbox handler has run, too). Security definer
-- with the admin setting of client_profile_pii's forced policies for the call only; it returns one
-- boolean for one id. The webhook asks it of the stored row's client, next to its look-up.
create function swan_billing_client_erased(p_client_id uuid) returns boolean
language sql stable security definer
set search_path = public, pg_temp
set app.current_user_role = 'admin'
as $$
  select exists (select 1 from client_profile_pii where client_id = p_client_id and erased_at is not null)
$$;
revoke all on function swan_billing_client_erased(uuid) from public;
grant execute on function swan_billing_client_erased(uuid) to swan_app;
