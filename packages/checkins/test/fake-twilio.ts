// A stand-in for Twilio's REST API at the SDK's HTTP boundary: the real `twilio` SDK builds the
// request and parses the answer; only the transport (its `httpClient`) is ours.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import type { TwilioHttpClient, TwilioHttpRequest, TwilioHttpResponse } from '../src/index.js';

export const ACCOUNT_SID = `AC${'1'.repeat(32)}`;
export const AUTH_TOKEN = 'test_auth_token_0123456789abcdef';
export const FROM = '+15005550006';

/** The `X-Twilio-Signature` the real SDK computes for a webhook to `url` with these form fields. */
export const twilioSignature = (url: string, fields: Record<string, string>, authToken = AUTH_TOKEN): string =>
  twilio.getExpectedTwilioSignature(authToken, url, fields);

export interface SentMessage {
  sid: string;
  to: string;
  from: string | undefined;
  body: string;
  idempotencyKey: string | undefined;
}

/** Set while an HTTP request handler runs (tests wrap route handlers in it). */
export const inRequest = new AsyncLocalStorage<boolean>();

export class FakeTwilio implements TwilioHttpClient {
  readonly sent: SentMessage[] = [];
  /** Every request, accepted or not. */
  readonly requests: { method: string; uri: string; at: number }[] = [];
  /** Calls made while an HTTP request handler was running (must stay empty). */
  readonly duringRequest: string[] = [];
  /** Answer 503 to message creation while true. */
  down = false;
  /** Per recipient: answer with this Twilio error. */
  readonly rejections = new Map<string, { status: number; code: number; message: string }>();
  /** Accept this many messages but lose the answer (the connection drops after Twilio's 201). */
  loseAnswers = 0;
  /** Answer message creation after this many ms (a slow Twilio). */
  delayMs = 0;
  /** Every message Twilio holds (as `GET Messages.json` lists them), newest first. */
  readonly #stored: Record<string, unknown>[] = [];

  async request(opts: TwilioHttpRequest): Promise<TwilioHttpResponse> {
    if (inRequest.getStore()) this.duringRequest.push(opts.uri);
    this.requests.push({ method: opts.method.toUpperCase(), uri: opts.uri, at: Date.now() });
    if (opts.username !== ACCOUNT_SID || opts.password !== AUTH_TOKEN) {
      return json(401, { code: 20003, message: 'Authenticate', status: 401 });
    }
    const url = new URL(opts.uri);
    const method = opts.method.toLowerCase();
    if (!['get', 'post'].includes(method) || url.pathname !== `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`) {
      return json(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    }
    if (this.down) return json(503, { code: 20503, message: 'Service unavailable', status: 503 });
    if (method === 'get') return this.#list(url, (opts.params ?? {}) as Record<string, string>);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const data = (opts.data ?? {}) as Record<string, string>;
    const rejection = this.rejections.get(data.To!);
    if (rejection) return json(rejection.status, { ...rejection, more_info: `https://www.twilio.com/docs/errors/${rejection.code}` });
    const sid = `SM${randomBytes(16).toString('hex')}`;
    const headers = opts.headers ?? {};
    this.sent.push({ sid, to: data.To!, from: data.From, body: data.Body!, idempotencyKey: headers['I-Twilio-Idempotency-Token'] });
    const now = new Date().toUTCString();
    const message = {
      sid, account_sid: ACCOUNT_SID, to: data.To, from: data.From ?? null, messaging_service_sid: data.MessagingServiceSid ?? null,
      body: data.Body, status: 'queued', direction: 'outbound-api', num_segments: '1', num_media: '0', price: null, price_unit: 'USD',
      api_version: '2010-04-01', date_created: now, date_updated: now, date_sent: null, error_code: null, error_message: null,
      uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${sid}.json`, subresource_uris: {},
    };
    this.#stored.unshift(message);
    if (this.loseAnswers > 0) {
      this.loseAnswers -= 1;
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    return json(201, message);
  }

  /** `GET Messages.json?To=&From=&PageSize=`: Twilio's list, newest first, one page. */
  #list(url: URL, params: Record<string, string>): TwilioHttpResponse {
    const q = (name: string) => params[name] ?? url.searchParams.get(name) ?? undefined;
    const to = q('To');
    const from = q('From');
    const size = Number(q('PageSize') ?? 50);
    const messages = this.#stored.filter((m) => (!to || m.to === to) && (!from || m.from === from)).slice(0, size);
    const uri = `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json?PageSize=${size}&Page=0`;
    return json(200, { messages, page: 0, page_size: size, first_page_uri: uri, uri, next_page_uri: null, previous_page_uri: null, start: 0, end: messages.length - 1 });
  }

  sentTo(phone: string): SentMessage[] {
    return this.sent.filter((m) => m.to === phone);
  }
}

function json(statusCode: number, body: unknown): TwilioHttpResponse {
  return { statusCode, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
}

/** The form fields Twilio posts for an inbound SMS. */
export function inboundFields(from: string, body: string, sid = `SM${randomBytes(16).toString('hex')}`): Record<string, string> {
  return {
    ToCountry: 'US', ToState: 'CA', SmsMessageSid: sid, NumMedia: '0', ToCity: '', FromZip: '', SmsSid: sid, FromState: 'CA',
    SmsStatus: 'received', FromCity: '', Body: body, FromCountry: 'US', To: FROM, ToZip: '', NumSegments: '1',
    MessageSid: sid, AccountSid: ACCOUNT_SID, From: from, ApiVersion: '2010-04-01',
  };
}
