-- @swan/billing: retention of processed Stripe event ids (billingRetentionRules()).
-- Stripe retries a webhook for up to 3 days and an operator may resend an event for 30 days; ids
-- older than the window can go. The application role has no DELETE on stripe_events: it removes
-- one batch through this function, which runs as the owner with the billing_service setting of
-- the row-level security policies for its own duration only. Returns the rows removed.
create function swan_billing_prune_stripe_events(cutoff timestamptz, max_rows integer) returns integer
language sql security definer
set search_path = public, pg_temp
set app.current_user_role = 'billing_service'
as $$
  with gone as (
    delete from stripe_events where event_id in (
      select event_id from stripe_events where processed_at < cutoff order by processed_at limit max_rows for update skip locked)
    returning 1)
  select count(*)::integer from gone
$$;

-- The count of a dry run.
create function swan_billing_count_stripe_events(cutoff timestamptz) returns bigint
language sql stable security definer
set search_path = public, pg_temp
set app.current_user_role = 'billing_service'
as $$ select count(*) from stripe_events where processed_at < cutoff $$;

revoke all on function swan_billing_prune_stripe_events(timestamptz, integer), swan_billing_count_stripe_events(timestamptz) from public;
grant execute on function swan_billing_prune_stripe_events(timestamptz, integer), swan_billing_count_stripe_events(timestamptz) to swan_app;
