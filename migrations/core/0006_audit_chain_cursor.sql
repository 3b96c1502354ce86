-- Catching up on a backlog in batches that each cost one batch, not the whole backlog.
--
-- A run that links a full batch cannot move the horizon (core/0005): entries past the batch are
-- still waiting. The next run therefore read every entry from that same horizon on again — the
-- whole backlog, materialized and probed against the links — to find the next batch, so linking
-- a backlog of N entries in batches of B read about N²/2B entries. (Measured: 740,000 entries
-- left unlinked, about 950 ms per batch of 5,000 at first.) A backlog builds up whenever no
-- chainer runs for a while: an outage, a deployment, a bulk import.
--
-- A full run now also leaves a cursor in the head: the id of the last entry it linked and its own
-- horizon (the xmin of its snapshot). It linked, in id order, every entry its statement could see
-- up to that id. So an entry that is still unlinked with an id up to the cursor belongs to a
-- transaction that had not finished when that run began: its txid is at least the cursor's
-- horizon. The next run reads the entries after the cursor in id order (a range of the primary
-- key, stopping after one batch) and those few stragglers (a range of the txid index), instead of
-- the backlog. A run that is not full moves the horizon as before and clears the cursor, so runs
-- in the steady state are unchanged. The first run, and the first after a restore, is the same
-- read with no cursor yet: by id from the first entry without a link, as before.
--
-- The function also turns bitmap scans off: reading after the cursor must be an index scan in id
-- order that stops after one batch, and the planner, which cannot know how few of those entries
-- are linked, would otherwise read them all through a bitmap and sort them. The other reads of a
-- run (the horizon's range, triggers on the links such as @swan/pii's access stamp) are plain
-- index scans as well.
alter table swan_audit_head add column cursor_id bigint, add column cursor_horizon xid8;

create or replace function swan_audit_chain(max_rows integer default 10000, wait boolean default false) returns integer
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
