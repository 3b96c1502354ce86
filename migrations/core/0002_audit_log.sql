-- Append-only, hash-chained audit log.
-- Requests insert rows in their own transaction (unchained: chain_seq is null), so they never
-- queue behind one global lock. One chainer at a time (swan_audit_chain) links committed rows
-- in order: chain_seq = previous + 1, prev_hash = previous row's hash,
-- hash = sha256(canonical encoding). verifyAuditChain() recomputes everything chained.
create table swan_audit_log (
  id           bigint generated always as identity primary key,
  occurred_at  timestamptz not null default clock_timestamp(),
  actor_id     text,
  actor_role   text,
  action       text not null,
  resource     text not null,
  resource_id  text,
  outcome      text not null default 'allowed' check (outcome in ('allowed', 'denied', 'not_found', 'error')),
  reason       text,
  details      jsonb not null default '{}'::jsonb,
  chain_seq    bigint unique,
  prev_hash    text,
  hash         text
);

create index swan_audit_log_unchained on swan_audit_log (id) where chain_seq is null;
create index swan_audit_log_resource on swan_audit_log (resource, resource_id, id);

-- The chain head: the last linked row, so deleting the newest rows is detected too.
create table swan_audit_head (
  singleton boolean primary key default true check (singleton),
  chain_seq bigint not null,
  hash      text not null
);

-- Canonical encoding: each field as <octets>:<text>, or ~ for null, joined by |.
create function swan_audit_field(v text) returns text
language sql immutable parallel safe as $$
  select case when v is null then '~' else octet_length(v)::text || ':' || v end
$$;

create function swan_audit_canonical(r swan_audit_log, seq bigint, prev text) returns text
language sql stable parallel safe as $$
  select concat_ws('|',
    swan_audit_field(seq::text),
    swan_audit_field(prev),
    swan_audit_field(r.id::text),
    swan_audit_field(to_char(r.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
    swan_audit_field(r.actor_id),
    swan_audit_field(r.actor_role),
    swan_audit_field(r.action),
    swan_audit_field(r.resource),
    swan_audit_field(r.resource_id),
    swan_audit_field(r.outcome),
    swan_audit_field(r.reason),
    swan_audit_field(r.details::text))
$$;

create function swan_audit_immutable() returns trigger
language plpgsql as $$
begin
  if tg_op = 'UPDATE' and old.chain_seq is null and new.chain_seq is not null
     and new.id = old.id
     and new.occurred_at = old.occurred_at
     and new.actor_id is not distinct from old.actor_id
     and new.actor_role is not distinct from old.actor_role
     and new.action = old.action
     and new.resource = old.resource
     and new.resource_id is not distinct from old.resource_id
     and new.outcome = old.outcome
     and new.reason is not distinct from old.reason
     and new.details = old.details then
    return new; -- linking a row into the chain, done once by swan_audit_chain
  end if;
  raise exception 'swan_audit_log is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
end $$;

create trigger swan_audit_log_no_update before update or delete on swan_audit_log
  for each row execute function swan_audit_immutable();
create trigger swan_audit_log_no_truncate before truncate on swan_audit_log
  for each statement execute function swan_audit_immutable();

-- Links up to max_rows committed, unchained rows. With wait = false it returns 0 at once when
-- another chainer is running. Security definer: the application role may call it but has no
-- UPDATE privilege on the table itself.
create function swan_audit_chain(max_rows integer default 10000, wait boolean default false) returns integer
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  seq bigint;
  prev text;
  h text;
  r swan_audit_log;
  n integer := 0;
begin
  if wait then
    perform pg_advisory_xact_lock(1400332655);
  elsif not pg_try_advisory_xact_lock(1400332655) then
    return 0;
  end if;
  select chain_seq, hash into seq, prev from swan_audit_head;
  seq := coalesce(seq, 0);
  prev := coalesce(prev, repeat('0', 64));
  for r in select * from swan_audit_log where chain_seq is null order by id limit max_rows loop
    seq := seq + 1;
    h := encode(sha256(convert_to(swan_audit_canonical(r, seq, prev), 'UTF8')), 'hex');
    update swan_audit_log set chain_seq = seq, prev_hash = prev, hash = h where id = r.id;
    prev := h;
    n := n + 1;
  end loop;
  if n > 0 then
    insert into swan_audit_head (singleton, chain_seq, hash) values (true, seq, prev)
      on conflict (singleton) do update set chain_seq = excluded.chain_seq, hash = excluded.hash;
  end if;
  return n;
end $$;

revoke all on swan_audit_log, swan_audit_head from public;
revoke all on function swan_audit_chain(integer, boolean) from public;
grant select on swan_audit_log, swan_audit_head to swan_app;
grant insert (actor_id, actor_role, action, resource, resource_id, outcome, reason, details)
  on swan_audit_log to swan_app, ai_service;
grant execute on function swan_audit_chain(integer, boolean) to swan_app;
