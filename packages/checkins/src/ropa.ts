import type { ProcessingRecord } from '@swan/core';
import { CHECKIN_EVENT } from './context.js';
import { checkinsRetentionRules } from './retention.js';

/**
 * `@swan/checkins`' entry in the record of processing activities (GDPR Art. 30): daily check-in
 * SMS through Twilio and the clients' replies.
 *
 * @example
 * ```ts
 * checkinsProcessingRecord().processors[0]!.name; // 'Twilio'
 * ```
 */
export function checkinsProcessingRecord(): ProcessingRecord {
  const scheduled = Object.values(CHECKIN_EVENT);
  return {
    package: 'checkins',
    activity: 'Check-in text messages',
    purposes: ['send clients their scheduled morning and evening check-in SMS and keep their replies for their trainer', 'honour STOP/START opt-outs'],
    dataSubjects: ['clients'],
    tables: [
      {
        table: 'checkin_schedules', holds: 'each client\'s daily check-in times',
        categories: ['local time', 'time zone'], encrypted: false,
        erasure: 'kept, deactivated (active false, no next run)', retention: 'until erasure',
      },
      {
        table: 'checkin_contacts', holds: 'each client\'s SMS opt-out state',
        categories: ['opt-out state and dates'], encrypted: false, erasure: 'deleted in the erasure transaction', retention: 'until erasure',
      },
      {
        table: 'checkin_messages', holds: 'the check-in SMS sent or attempted (no number, no text)',
        categories: ['send times and status', 'Twilio message SIDs'], encrypted: false,
        erasure: 'kept as send history; a check-in already queued finds no phone and ends as no_phone',
      },
      {
        table: 'checkin_responses', holds: 'the clients\' SMS replies',
        categories: ['reply texts (may contain health data)', 'Twilio message SIDs'], encrypted: false,
        erasure: 'deleted in the erasure transaction',
      },
    ],
    processors: [
      {
        name: 'Twilio', purpose: 'sends the check-in SMS and delivers the replies',
        data: ['phone number', 'check-in texts (alias, no name)', 'reply texts'],
        notes: 'Twilio keeps its own message records until they are deleted through its API',
      },
    ],
    publishes: [...scheduled, 'checkin_response_received'],
    consumes: scheduled,
    retentionRules: checkinsRetentionRules(),
    measures: [
      'the phone number is read per send through an audited, purpose-stated PII read, never stored by this package',
      'inbound webhooks accepted only with a valid X-Twilio-Signature',
      'a check-in is sent at most once (a send claim per event)',
    ],
  };
}
