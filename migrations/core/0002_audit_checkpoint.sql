-- @swan/core: audit retention. A prefix of the chain may be removed by swan_audit_prune(), which
-- records a checkpoint (the sequence and hash of the last removed link) in the same transaction;
-- verifyAuditChain() starts from the latest checkpoint and is exact from there on. Nothing else
-- can remove entries: a delete of an entry or link the latest checkpoint does not cover is refused.

-- One row per pruning: links first_seq .. chain_seq were removed; hash is the hash of link
-- chain_seq (the prev_hash of the first link kept). export_sha256 is the SHA-256 of the file the
-- removed segment was exported to before removal, when it was. Append-only.
create table swan_audit_checkpoint (
  chain_seq     bigint primary key,
  hash          text not null,
  first_seq     bigint not null check (first_seq between 1 and chain_seq),
  entries       bigint not null check (entries >= 0),
  export_sha256 text check (export_sha256 ~ '^[0-9a-f]{64}$'),
  pruned_at     timestamptz not null default now()
);
create trigger swan_audit_checkpoint_no_update before update or delete on swan_audit_checkpoint
  for each row execute function swan_audit_immutable();
create trigger swan_audit_checkpoint_no_truncate before truncate on swan_audit_checkpoint
  for each statement execute function swan_audit_immutable();

-- Refuses to delete an entry or link unless the latest checkpoint covers it (updates stay refused
-- by swan_audit_immutable).
create function swan_audit_delete_guard() returns trigger
language plpgsql as $$
declare
  covered bigint := (select max(chain_seq) from swan_audit_checkpoint);
begin
  if tg_table_name = 'swan_audit_chain' then
    if covered is not null and old.chain_seq <= covered then return old; end if;
  elsif exists (select 1 from swan_audit_chain c where c.entry_id = old.id and c.chain_seq <= coalesce(covered, 0)) then
    return old;
  end if;
  raise exception '% is append-only: DELETE refused (prune with swan_audit_prune)', tg_table_name using errcode = 'insufficient_privilege';
end $$;

drop trigger swan_audit_log_no_update on swan_audit_log;
create trigger swan_audit_log_no_update before update on swan_audit_log
  for each row execute function swan_audit_immutable();
create trigger swan_audit_log_delete_guard before delete on swan_audit_log
  for each row execute function swan_audit_delete_guard();
drop trigger swan_audit_chain_no_update on swan_audit_chain;
create trigger swan_audit_chain_no_update before update on swan_audit_chain
  for each row execute function swan_audit_immutable();
create trigger swan_audit_chain_delete_guard before delete on swan_audit_chain
  for each row execute function swan_audit_delete_guard();

-- Removes the chain's prefix up to link up_to_seq and its entries, and records the checkpoint,
-- atomically. expected_hash must be the hash of that link as the caller verified it (the segment
-- is checked before it goes: pruneAuditLog() recomputes it); the segment must be gap-free.
-- Serialized with the chainer. Returns the entries removed (0 when already pruned that far).
create function swan_audit_prune(up_to_seq bigint, expected_hash text, export_sha256 text default null) returns bigint
language plpgsql security definer
set search_path = public, pg_temp
as $$
declare
  covered bigint;
  head_seq bigint;
  last_hash text;
  n bigint;
begin
  perform pg_advisory_xact_lock(1400332655);
  covered := coalesce((select max(chain_seq) from swan_audit_checkpoint), 0);
  if up_to_seq <= covered then return 0; end if;
  head_seq := (select chain_seq from swan_audit_head);
  if head_seq is null or up_to_seq > head_seq then
    raise exception 'swan_audit_prune: link % is not chained yet', up_to_seq using errcode = 'invalid_parameter_value';
  end if;
  select hash into last_hash from swan_audit_chain where chain_seq = up_to_seq;
  if last_hash is null or last_hash <> expected_hash then
    raise exception 'swan_audit_prune: link % does not have the verified hash', up_to_seq using errcode = 'invalid_parameter_value';
  end if;
  select count(*) into n from swan_audit_chain where chain_seq > covered and chain_seq <= up_to_seq;
  if n <> up_to_seq - covered then
    raise exception 'swan_audit_prune: links % to % have gaps', covered + 1, up_to_seq using errcode = 'invalid_parameter_value';
  end if;
  insert into swan_audit_checkpoint (chain_seq, hash, first_seq, entries, export_sha256)
    values (up_to_seq, last_hash, covered + 1, n, export_sha256);
  delete from swan_audit_log where id in (select entry_id from swan_audit_chain where chain_seq > covered and chain_seq <= up_to_seq);
  delete from swan_audit_chain where chain_seq > covered and chain_seq <= up_to_seq;
  return n;
end $$;

revoke all on swan_audit_checkpoint from public;
revoke all on function swan_audit_prune(bigint, text, text) from public;
grant select on swan_audit_checkpoint to swan_app;
grant execute on function swan_audit_prune(bigint, text, text) to swan_app;
