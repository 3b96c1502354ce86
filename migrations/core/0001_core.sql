-- @swan/core: the SDK's roles and the hash-chained audit log.

-- ============================================================ roles
-- Roles are cluster-wide: created once if missing, never altered here.
--   swan_app    the application's login role: not superuser, not BYPASSRLS, owns nothing.
--               In production give it a password (ALTER ROLE swan_app PASSWORD …) and connect as it.
--   ai_service  AI services: training data only, no privilege on PII. swan_app may SET ROLE to it.
do $$
declare
  r record;
begin
  for r in select * from (values ('swan_app', 'login'), ('ai_service', 'nologin')) as v(name, login) loop
    begin
      if not exists (select 1 from pg_roles where rolname = r.name) then
        execute format('create role %I %s nosuperuser nobypassrls nocreatedb nocreaterole', r.name, r.login);
      end if;
    exception when duplicate_object or unique_violation then null; -- created by a concurrent migrator
    end;
  end loop;
  if not pg_has_role('swan_app', 'ai_service', 'member') then
    grant ai_service to swan_app;
  end if;
end $$;

grant usage on schema public to swan_app, ai_service;

-- ============================================================ audit log
-- Append-only audit entries. A request inserts its entry in its own transaction; txid (set by the
-- default, not writable by the application roles) records which transaction wrote it, so the
-- chainer can tell which entries may still appear.
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
  txid         xid8 default pg_current_xact_id()
);

-- "everything about this subject" (the data-subject export's access log)
create index swan_audit_log_subject on swan_audit_log (resource_id, id);
-- the chainer's look-up of entries from recent transactions
create index swan_audit_log_txid on swan_audit_log (txid);

-- The chain: one link per entry, in commit order, written once by swan_audit_chain().
-- hash = sha256(canonical encoding of chain_seq, prev_hash and the entry); verifyAuditChain()
-- recomputes it.
create table swan_audit_chain (
  chain_seq bigint primary key,
  entry_id  bigint not null unique,
  prev_hash text not null,
  hash      text not null
);

-- The chain head: the last link (so deleting the newest links is detected too), the horizon
-- (entries of transactions older than it are all linked) and, after a run that linked a full
-- batch, the cursor (the last entry it linked, and that run's horizon).
create table swan_audit_head (
  singleton      boolean primary key default true check (singleton),
  chain_seq      bigint not null,
  hash           text not null,
  horizon        xid8,
  cursor_id      bigint,
  cursor_horizon xid8
);

-- Canonical encoding of one field: <octets>:<text>, or ~ for null.
create function swan_audit_field(v text) returns text
language sql immutable parallel safe as $$
  select case when v is null then '~' else octet_length(v)::text || ':' || v end
$$;

-- Refuses every change of an entry or link: the log and the chain are append-only.
create function swan_audit_immutable() returns trigger
language plpgsql as $$
begin
  raise exception '% is append-only: % refused', tg_table_name, tg_op using errcode = 'insufficient_privilege';
end $$;
create trigger swan_audit_log_no_update before update or delete on swan_audit_log
  for each row execute function swan_audit_immutable();
create trigger swan_audit_log_no_truncate before truncate on swan_audit_log
  for each statement execute function swan_audit_immutable();
create trigger swan_audit_chain_no_update before update or delete on swan_audit_chain
  for each row execute function swan_audit_immutable();
create trigger swan_audit_chain_no_truncate before truncate on swan_audit_chain
  for each statement execute function swan_audit_immutable();

-- Everything an entry's hash covers after its chain_seq and prev_hash, in the canonical encoding
-- (fields joined by |). Inlined into the chainer's query.
create function swan_audit_content(r swan_audit_log) returns text
language sql stable parallel safe as $$
  select concat_ws('|',
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

-- The chainer: links up to max_rows committed, unlinked entries in id order and returns how many.
-- With wait = false it returns 0 at once when another chainer is running. It reads only entries
-- from the horizon on (txid index) or, after a full batch, those after the cursor plus the
-- stragglers of transactions that were still open then, so each batch costs one batch however
-- long the backlog. Its plan settings keep every read an index scan in id order. Security
-- definer: the application role may call it but cannot write links itself. Its commit is
-- asynchronous: entries of a lost commit are simply linked again.
create function swan_audit_chain(max_rows integer default 10000, wait boolean default false) returns integer
language plpgsql security definer
set search_path = public, pg_temp
set synchronous_commit = off
set plan_cache_mode = force_custom_plan
set enable_seqscan = off
set enable_bitmapscan = off
set jit = off
set enable_hashjoin = off
set enable_mergejoin = off
as $$
declare
  horizon_now xid8 := pg_snapshot_xmin(pg_current_snapshot());
  horizon_was xid8;
  after_id bigint;
  after_horizon xid8;
  seq bigint;
  prev text;
  ids bigint[];
  contents text[];
  prevs text[];
  hashes text[];
  n integer;
  seen bigint;
begin
  if wait then
    perform pg_advisory_xact_lock(1400332655);
  elsif not pg_try_advisory_xact_lock(1400332655) then
    return 0;
  end if;
  select h.chain_seq, h.hash, h.horizon, h.cursor_id, h.cursor_horizon
    into seq, prev, horizon_was, after_id, after_horizon from swan_audit_head h;
  seq := coalesce(seq, 0);
  prev := coalesce(prev, repeat('0', 64));
  if horizon_was > horizon_now or after_horizon > horizon_now then
    -- A horizon never moves back within one cluster: this database was restored into another
    -- one (pg_dump), whose transaction ids may be lower. Look at every entry once more.
    horizon_was := null;
    after_id := null;
  end if;
  if after_id is not null or horizon_was is null then
    -- by id: after the cursor, and the stragglers behind it; with no cursor (the first run, or
    -- after a restore) from the first entry without a link
    select coalesce(array_agg(e.id order by e.id), '{}'), coalesce(array_agg(swan_audit_content(e) order by e.id), '{}')
      into ids, contents
      from (select * from (
              (select * from swan_audit_log l
                where (after_id is null or l.id > after_id)
                  and not exists (select 1 from swan_audit_chain c where c.entry_id = l.id)
                order by l.id limit max_rows)
              union all
              (select * from swan_audit_log l
                where l.txid >= after_horizon and l.id <= after_id
                  and not exists (select 1 from swan_audit_chain c where c.entry_id = l.id))
            ) x order by x.id limit max_rows) e;
  else
    with recent as materialized (select * from swan_audit_log l where l.txid >= horizon_was),
    todo as (select * from recent l
              where not exists (select 1 from swan_audit_chain c where c.entry_id = l.id)
              order by l.id limit max_rows)
    select (select count(*) from recent), coalesce(array_agg(e.id order by e.id), '{}'), coalesce(array_agg(swan_audit_content(e) order by e.id), '{}')
      into seen, ids, contents
      from todo e;
  end if;
  n := cardinality(ids);
  prevs := array_fill(null::text, array[n]);
  hashes := prevs;
  for i in 1 .. n loop
    prevs[i] := prev;
    prev := encode(sha256(convert_to(swan_audit_field((seq + i)::text) || '|' || swan_audit_field(prev) || '|' || contents[i], 'UTF8')), 'hex');
    hashes[i] := prev;
  end loop;
  if n > 0 then
    insert into swan_audit_chain (chain_seq, entry_id, prev_hash, hash)
      select seq + v.o, v.id, v.prev, v.h from unnest(ids, prevs, hashes) with ordinality as v(id, prev, h, o);
  end if;
  -- A run that links fewer entries than it may has linked every visible one: the horizon moves
  -- up and the cursor goes. A full run keeps the horizon and leaves the cursor after its last
  -- entry. Not when it saw no entry at all: its own write would move the next run's horizon, forever.
  if n > 0 or horizon_was is null or (seen > 0 and horizon_now > horizon_was) then
    insert into swan_audit_head (singleton, chain_seq, hash, horizon, cursor_id, cursor_horizon)
      values (true, seq + n, prev,
              case when n < max_rows then horizon_now else horizon_was end,
              case when n < max_rows then null else ids[n] end,
              case when n < max_rows then null else horizon_now end)
      on conflict (singleton) do update set chain_seq = excluded.chain_seq, hash = excluded.hash, horizon = excluded.horizon,
        cursor_id = excluded.cursor_id, cursor_horizon = excluded.cursor_horizon;
  end if;
  return n;
end $$;

revoke all on swan_audit_log, swan_audit_chain, swan_audit_head from public;
revoke all on function swan_audit_chain(integer, boolean) from public;
grant select on swan_audit_log, swan_audit_chain, swan_audit_head to swan_app;
grant insert (actor_id, actor_role, action, resource, resource_id, outcome, reason, details)
  on swan_audit_log to swan_app, ai_service;
grant execute on function swan_audit_chain(integer, boolean) to swan_app;
