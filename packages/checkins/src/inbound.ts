import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { checkText, errors } from '@swan/core';
import twilio from 'twilio';
import { asService, CHECKINS_SERVICE_ACTOR, setOptOut, type CheckinsContext } from './context.js';
import type { Checkins } from './types.js';
import { invalid } from './validation.js';

const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'END', 'QUIT', 'CANCEL', 'REVOKE', 'OPTOUT']);
const OPT_IN = new Set(['START', 'YES', 'UNSTOP']);

/**
 * The keyword of an inbound text (Twilio matches the whole trimmed body, case-insensitively).
 *
 * @example
 * ```ts
 * keywordOf(' Stop '); // 'STOP'
 * keywordOf("can't stop"); // null
 * ```
 */
export function keywordOf(body: string): 'STOP' | 'START' | 'HELP' | null {
  const word = body.trim().replace(/[.!?]+$/, '').toUpperCase();
  if (OPT_OUT.has(word)) return 'STOP';
  if (OPT_IN.has(word)) return 'START';
  if (word === 'HELP' || word === 'INFO') return 'HELP';
  return null;
}

/** TwiML with an optional message. */
function twimlOf(text: string | null): string {
  const r = new twilio.twiml.MessagingResponse();
  if (text) r.message(text);
  return r.toString();
}

const field = (fields: Record<string, unknown>, name: string): string | null => {
  const v = fields[name];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' ? s : null;
};

/**
 * Inbound: the verified Twilio SMS webhook (replies stored once by message SID, STOP/START
 * opt-out, `checkin_response_received` published), signature verification and opt-out state.
 */
export function createInbound(ctx: CheckinsContext): Pick<Checkins, 'receive' | 'verifySignature' | 'isOptedOut'> {
  const receive: Checkins['receive'] = async (fields) => {
    const from = field(fields, 'From');
    const sid = field(fields, 'MessageSid') ?? field(fields, 'SmsSid');
    if (!from || !sid || !/^[A-Za-z]{2}[0-9a-fA-F]{32}$/.test(sid)) {
      throw invalid('Not a Twilio SMS webhook', [{ path: 'From/MessageSid', message: 'required' }]);
    }
    const body = checkText(field(fields, 'Body'), 'Body', { max: 10_000, multiline: true }) ?? '';
    let client: { clientId: string; alias: string | null } | null;
    try {
      client = await ctx.pii.findClientByPhone(from, CHECKINS_SERVICE_ACTOR);
    } catch (cause) {
      // a database outage is not an unknown sender: 503, Twilio retries the webhook
      throw errors.unavailable('Sender lookup is unavailable; retry later', { cause });
    }
    if (!client) return { outcome: 'unknown_sender', keyword: null, twiml: twimlOf(null) };
    const keyword = keywordOf(body);
    const stored = await asService(ctx.db, async (trx) => {
      const { rows } = await sql<{ id: string; checkin_event_id: string | null }>`
        insert into checkin_responses (id, message_sid, client_id, checkin_event_id, body, keyword)
        values (${randomUUID()}::uuid, ${sid}, ${client.clientId}::uuid,
                (select event_id from checkin_messages where client_id = ${client.clientId}::uuid and status = 'sent'
                  order by created_at desc limit 1),
                ${body}, ${keyword})
        on conflict (message_sid) do nothing
        returning id, checkin_event_id`.execute(trx);
      const row = rows[0];
      if (!row) return null;
      if (keyword === 'STOP' || keyword === 'START') await setOptOut(trx, client.clientId, keyword === 'STOP', 'keyword');
      await ctx.events.publish(trx, {
        eventType: 'checkin_response_received',
        payload: { clientId: client.clientId, messageId: row.id, ...(row.checkin_event_id ? { checkinId: row.checkin_event_id } : {}) },
        aggregateType: 'client',
        aggregateId: client.clientId,
        idempotencyKey: `checkin_response:${sid}`,
      });
      return row;
    });
    // Twilio answers STOP itself (and blocks our replies to opted-out numbers): no text then
    const reply = keyword === 'STOP' ? null : keyword === 'START' ? ctx.texts.optedIn : keyword === 'HELP' ? ctx.texts.help : ctx.texts.received || null;
    return stored
      ? { outcome: 'stored', keyword, twiml: twimlOf(reply), responseId: stored.id }
      : { outcome: 'duplicate', keyword, twiml: twimlOf(reply) };
  };

  return {
    receive,
    verifySignature(signature, url, params) {
      if (!ctx.authToken || !signature) return false;
      try {
        return twilio.validateRequest(ctx.authToken, signature, url, params as Record<string, any>);
      } catch {
        return false;
      }
    },
    async isOptedOut(clientId) {
      return asService(ctx.db, async (trx) => {
        const { rows } = await sql<{ opted_out: boolean }>`select opted_out from checkin_contacts where client_id = ${clientId}::uuid`.execute(trx);
        return rows[0]?.opted_out === true;
      });
    },
  };
}
