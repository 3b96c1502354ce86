-- Chain links in a table of their own, written once, instead of an UPDATE of every entry.
--
-- Linking used to rewrite each audit entry to fill in chain_seq, prev_hash and hash: a non-HOT
-- update (chain_seq is indexed) that copied the row, added an entry to every index of the log and
-- checked the immutability trigger, about 16 µs of the chainer's 40 µs per entry, on the busiest
-- table there is. An entry is now never updated after its INSERT. The chainer appends one row per
-- entry to swan_audit_chain (chain_seq, entry_id, prev_hash, hash), with the same hash over the
-- same canonical encoding as before, so chains linked before this migration verify unchanged.
--
-- Which entries still need a link: each entry records the transaction that wrote it (txid, set
-- by its default; the application roles cannot write the column). Every transaction older than
-- a snapshot's xmin has finished, so once the chainer has linked every visible entry of a
-- snapshot, entries from transactions older than its xmin can never appear again: the head keeps
-- that horizon, and the next run only looks at entries from it on (txid index), skipping those
-- already linked. A transaction that stays open holds the horizon back but not the linking.
-- The chainer's commit is asynchronous: if a crash loses it, its entries are simply linked again.

alter table swan_audit_log add column txid xid8;
alter table swan_audit_log alter column txid set default pg_current_xact_id();
create index swan_audit_log_txid on swan_audit_log (txid);

create table swan_audit_chain (
  chain_seq bigint primary key,
  entry_id  bigint not null unique,
  prev_hash text not null,
  hash      text not null
);
insert into swan_audit_chain (chain_seq, entry_id, prev_hash, hash)
  select chain_seq, id, prev_hash, hash from swan_audit_log where chain_seq is not null;

alter table swan_audit_head add column horizon xid8;

-- Entries are now append-only without exception; so are links.
drop trigger swan_audit_log_no_update on swan_audit_log;
drop trigger swan_audit_log_no_delete on swan_audit_log;
drop function swan_audit_chain(integer, boolean);
drop function swan_audit_canonical(swan_audit_log, bigint, text);
alter table swan_audit_log drop column chain_seq, drop column prev_hash, drop column hash;

create or replace function swan_audit_immutable() returns trigger
language plpgsql as $$
begin
  raise exception '% is append-only: % refused', tg_table_name, tg_op using errcode = 'insufficient_privilege';
end $$;
create trigger swan_audit_log_no_update before update or delete on swan_audit_log
  for each row execute function swan_audit_immutable();
create trigger swan_audit_chain_no_update before update or delete on swan_audit_chain
  for each row execute function swan_audit_immutable();
create trigger swan_audit_chain_no_truncate before truncate on swan_audit_chain
  for each statement execute function swan_audit_immutable();

-- Everything an entry's hash covers after its chain_seq and prev_hash, in the canonical encoding
-- (each field as <octets>:<text> or ~, joined by |). Inlined into the chainer's query.
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

-- Links up to max_rows committed, unlinked entries in id order and returns how many. With
-- wait = false it returns 0 at once when another chainer is running. Security definer: the
-- application role may call it but cannot write links itself.
-- Planned for the values of each run, through indexes only: the entries from the horizon on are
-- few (an index range of the txid index, never a scan of the log), and the anti-join probes the
-- links' index instead of hashing the whole chain table (and no JIT: the disabled scans' costs
-- would invite it).
create function swan_audit_chain(max_rows integer default 10000, wait boolean default false) returns integer
language plpgsql security definer
set search_path = public, pg_temp
set synchronous_commit = off
set plan_cache_mode = force_custom_plan
set enable_seqscan = off
set jit = off
set enable_hashjoin = off
set enable_mergejoin = off
as $$
declare
  horizon_now xid8 := pg_snapshot_xmin(pg_current_snapshot());
  horizon_was xid8;
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
  select h.chain_seq, h.hash, h.horizon into seq, prev, horizon_was from swan_audit_head h;
  seq := coalesce(seq, 0);
  prev := coalesce(prev, repeat('0', 64));
  if horizon_was > horizon_now then
    -- A horizon never moves back within one cluster: this database was restored into another
    -- one (pg_dump), whose transaction ids may be lower. Look at every entry once more.
    horizon_was := null;
  end if;
  if horizon_was is null then -- the first run, or after a restore: every entry without a link
    select coalesce(array_agg(e.id order by e.id), '{}'), coalesce(array_agg(swan_audit_content(e) order by e.id), '{}')
      into ids, contents
      from (select * from swan_audit_log l
             where not exists (select 1 from swan_audit_chain c where c.entry_id = l.id)
             order by l.id limit max_rows) e;
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
  -- up. Not when it saw no entry at all: its own write would move the next run's horizon, forever.
  if n > 0 or horizon_was is null or (seen > 0 and horizon_now > horizon_was) then
    insert into swan_audit_head (singleton, chain_seq, hash, horizon)
      values (true, seq + n, prev, case when n < max_rows then horizon_now else horizon_was end)
      on conflict (singleton) do update set chain_seq = excluded.chain_seq, hash = excluded.hash, horizon = excluded.horizon;
  end if;
  return n;
end $$;

revoke all on swan_audit_chain from public;
revoke all on function swan_audit_chain(integer, boolean) from public;
grant select on swan_audit_chain to swan_app;
grant execute on function swan_audit_chain(integer, boolean) to swan_app;
