import { isUuid, type SwanError } from '@swan/core';
import { CHECKINS_SERVICE_ACTOR, classifyTwilioError, withIdempotencyKey, type Checkins, type CheckinsPii, type TwilioClient } from '@swan/checkins';
import { PermanentError } from '@swan/outbox';
import type { Logger } from './types.js';

/** Purpose stated (and audited) for the phone-number read of a dunning SMS. */
export const DUNNING_PURPOSE = 'payment_failed: dunning SMS with the hosted invoice link';

/** The dunning text: the alias and the link only, no amount, no plan, no health data. */
export function dunningText(alias: string, link: string): string {
  return `Hi ${alias}, your latest Swan payment did not go through. Pay or update your card here: ${link} Reply STOP to opt out.`;
}

export interface DunningOptions {
  checkins: Pick<Checkins, 'isOptedOut'>;
  pii: CheckinsPii;
  /** The check-ins' Twilio client and sender; `null` when Twilio is not configured. */
  twilio: TwilioClient | null;
  from: string | null;
  /** Where a client without a hosted invoice link manages billing (`PUBLIC_URL/pricing`). */
  fallbackUrl: string;
  logger: Logger;
}

/**
 * The `payment_failed` handler: texts the client, through the check-ins' Twilio sender and opt-out
 * list, the invoice's hosted payment page (`hostedInvoiceUrl` of the event, from Stripe's
 * `hosted_invoice_url`; the pricing page when Stripe sent none). The phone number is read with an
 * audited, purpose-stated access ({@link DUNNING_PURPOSE}); the request carries the event id as
 * Twilio's idempotency token, so a retried event does not text twice. A client who opted out
 * (STOP), has no phone number or is gone gets nothing; Twilio not configured or a number it
 * refuses dead-letters the event (and so raises an alert); Twilio unavailable retries it.
 *
 * @example
 * ```ts
 * ctx.onEvent('payment_failed', dunningHandler({ checkins, pii, twilio, from, fallbackUrl: `${publicUrl}/pricing`, logger }));
 * ```
 */
export function dunningHandler(options: DunningOptions): (event: { eventId: string; payload: unknown }) => Promise<void> {
  const { logger } = options;
  return async (event) => {
    const payload = event.payload as { clientId?: unknown; hostedInvoiceUrl?: unknown; invoiceId?: unknown };
    const clientId = payload.clientId;
    if (!isUuid(clientId)) {
      logger.warn('dunning: payment_failed without a client id; nobody to notify', { eventId: event.eventId });
      return;
    }
    if (await options.checkins.isOptedOut(clientId)) {
      logger.info('dunning: client opted out of SMS; no dunning text', { eventId: event.eventId });
      return;
    }
    if (!options.twilio || !options.from) throw new PermanentError('Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM): no dunning SMS');
    let contact: { phone: string | null; alias: string | null };
    try {
      contact = await options.pii.phoneFor(CHECKINS_SERVICE_ACTOR, clientId, DUNNING_PURPOSE);
    } catch (error) {
      if ((error as SwanError).code === 'NOT_FOUND') {
        logger.info('dunning: client is gone; no dunning text', { eventId: event.eventId });
        return;
      }
      throw error;
    }
    if (!contact.phone) {
      logger.info('dunning: no phone number on file; no dunning text', { eventId: event.eventId });
      return;
    }
    const hosted = typeof payload.hostedInvoiceUrl === 'string' && payload.hostedInvoiceUrl.startsWith('https://') ? payload.hostedInvoiceUrl : null;
    const body = dunningText(contact.alias ?? 'Swan', hosted ?? options.fallbackUrl);
    const from = options.from;
    try {
      await withIdempotencyKey(event.eventId, () => options.twilio!.messages.create({
        to: contact.phone!,
        body,
        ...(from.startsWith('MG') ? { messagingServiceSid: from } : { from }),
      }));
    } catch (error) {
      const failure = classifyTwilioError(error);
      if (failure.kind === 'retry') throw new Error(failure.reason);
      throw new PermanentError(failure.reason);
    }
    logger.info('dunning: payment-failed SMS sent', { eventId: event.eventId, link: hosted ? 'hosted invoice' : 'pricing page' });
  };
}
