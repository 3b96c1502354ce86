-- Multi-step handlers (a local side effect, then the NATS relay): steps_done counts the steps of
-- the current delivery that succeeded, written only on the failure and deferral paths, so a retry
-- resumes after them (a relay retry does not send the check-in SMS again). Constant default:
-- a metadata-only change, no table rewrite.
alter table swan_outbox add column steps_done smallint not null default 0 check (steps_done >= 0);
alter table swan_outbox_archive add column steps_done smallint not null default 0;
