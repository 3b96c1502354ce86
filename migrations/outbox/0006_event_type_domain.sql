-- The event type's format is checked where a type is written (publish, or an update of the column) by a domain,
-- instead of by a table check constraint: PostgreSQL evaluates a table's check constraints again on every update of
-- a row, and a regular expression per claim and per completion was the larger part of a drained event's cost.
-- Existing rows passed the constraint this replaces, so the domain's check is added without scanning them, and the
-- column's type changes without a rewrite (a domain without constraints is stored as its base type).
create domain swan_outbox_event_type as text;
alter table swan_outbox alter column event_type type swan_outbox_event_type;
alter domain swan_outbox_event_type add constraint swan_outbox_event_type_format
  check (value ~ '^[a-z][a-z0-9_.]{0,99}$') not valid;
alter table swan_outbox drop constraint swan_outbox_event_type_check;
