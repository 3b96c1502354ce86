-- Erasure deletes a client's check-in replies and opt-out record in the erasing transaction:
-- @swan/pii's erase() runs checkins.erasureParticipant() with the erasing admin's settings, after
-- the client's PII row has its erased_at set. Admins read replies but never delete them, except
-- those of an erased client (checkin_contacts is already managed by admins).
create policy checkin_responses_admin_erasure on checkin_responses for delete
  using (swan_current_user_role() = 'admin'
         and exists (select 1 from client_profile_pii p
                      where p.client_id = checkin_responses.client_id and p.erased_at is not null));
