-- @swan/checkins: an exclusive send claim, reconciliation state, and erasure.
--
--   claimed_until    the send claim of one handler run: set by
--                    `update … where status = 'sending' and (claimed_until is null or claimed_until < now())`,
--                    so a second run of the same event (a worker that took over an expired outbox
--                    lease, a redelivery) can't send while the first may still be talking to Twilio
--   claim_token      the run holding the claim; only that run can record the outcome or release it
--   unconfirmed_at   the first send attempt whose outcome is unknown (no answer, transport error,
--                    5xx, process died): the next run lists the recipient's messages at Twilio
--                    since then and records a match instead of sending again
--
-- Erasure (`client_erased` handler): replies and the opt-out record are deleted, schedules
-- deactivated; the app role needs `delete` on those tables (row-level security still confines it to
-- the checkins_service setting, and admin for contacts).

alter table checkin_messages
  add column claimed_until  timestamptz,
  add column claim_token    uuid,
  add column unconfirmed_at timestamptz;

grant delete on checkin_responses, checkin_contacts to swan_app;
