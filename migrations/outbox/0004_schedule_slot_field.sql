-- @swan/outbox: stored schedules (ScheduleStore, createScheduleStore) may name a payload key that
-- receives each occurrence's slot as an ISO time (a check-in's `scheduledFor`).
-- Rows with a cron are the schedules stored at run time; rows without one belong to schedules
-- defined in code (the worker's `schedules` option).
alter table swan_outbox_schedules add column slot_field text check (slot_field ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}$');
