import { describe, expect, it } from 'vitest';
import twilio from 'twilio';
import { classifyTwilioError, createTwilioClient, isTimeZone, keywordOf, nextDailyOccurrence, zonedTimeToUtc } from '../src/index.js';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, inRequest } from './fake-twilio.js';

const LA = 'America/Los_Angeles';
const iso = (d: Date) => d.toISOString();

describe('daily occurrences across daylight-saving changes', () => {
  it('spring forward (2025-03-09 in Los Angeles): 07:00 moves from UTC-8 to UTC-7', () => {
    expect(iso(nextDailyOccurrence('07:00', LA, new Date('2025-03-08T15:00:00Z')))).toBe('2025-03-09T14:00:00.000Z');
    expect(iso(nextDailyOccurrence('07:00', LA, new Date('2025-03-09T14:00:00Z')))).toBe('2025-03-10T14:00:00.000Z');
    expect(iso(nextDailyOccurrence('07:00', LA, new Date('2025-03-07T15:00:00Z')))).toBe('2025-03-08T15:00:00.000Z');
  });
  it('fall back (2025-11-02 in Los Angeles): 07:00 moves from UTC-7 to UTC-8', () => {
    expect(iso(nextDailyOccurrence('07:00', LA, new Date('2025-11-01T14:00:00Z')))).toBe('2025-11-02T15:00:00.000Z');
    expect(iso(nextDailyOccurrence('19:30', LA, new Date('2025-11-02T02:30:00Z')))).toBe('2025-11-03T03:30:00.000Z');
  });
  it('a skipped local time moves forward by the jump; a repeated one resolves to its first occurrence', () => {
    expect(iso(zonedTimeToUtc({ year: 2025, month: 3, day: 9, hour: 2, minute: 30 }, LA))).toBe('2025-03-09T10:30:00.000Z'); // 03:30 PDT
    expect(iso(zonedTimeToUtc({ year: 2025, month: 11, day: 2, hour: 1, minute: 30 }, LA))).toBe('2025-11-02T08:30:00.000Z'); // 01:30 PDT
    expect(iso(nextDailyOccurrence('02:30', LA, new Date('2025-03-09T09:00:00Z')))).toBe('2025-03-09T10:30:00.000Z');
  });
  it('other zones: southern hemisphere, half-hour offsets, UTC; strictly after', () => {
    expect(iso(nextDailyOccurrence('07:00', 'Australia/Sydney', new Date('2025-10-03T12:00:00Z')))).toBe('2025-10-03T21:00:00.000Z'); // AEST, UTC+10
    expect(iso(nextDailyOccurrence('07:00', 'Australia/Sydney', new Date('2025-10-04T12:00:00Z')))).toBe('2025-10-04T20:00:00.000Z'); // AEDT from 10-05, UTC+11
    expect(iso(nextDailyOccurrence('23:30', 'Asia/Kolkata', new Date('2025-11-01T14:00:00Z')))).toBe('2025-11-01T18:00:00.000Z');
    expect(iso(nextDailyOccurrence('07:00', 'UTC', new Date('2025-11-01T07:00:00Z')))).toBe('2025-11-02T07:00:00.000Z');
    expect(() => nextDailyOccurrence('7am', LA, new Date())).toThrow(RangeError);
    expect(isTimeZone(LA)).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});

describe('Twilio errors and keywords', () => {
  it('classifies recipient errors as permanent and 429/5xx/network as retryable', () => {
    const err = (status: number, code?: number) => Object.assign(new Error('x'), { status, code });
    expect(classifyTwilioError(err(400, 21610))).toMatchObject({ kind: 'permanent', code: 21610 });
    for (const code of [21211, 21614, 21408]) expect(classifyTwilioError(err(400, code)).kind).toBe('permanent');
    expect(classifyTwilioError(err(429, 20429)).kind).toBe('retry');
    expect(classifyTwilioError(err(503)).kind).toBe('retry');
    expect(classifyTwilioError(new Error('connect ECONNREFUSED')).kind).toBe('retry');
    expect(classifyTwilioError(err(401, 20003)).kind).toBe('permanent');
  });
  it('recognizes the opt-out, opt-in and help keywords only as the whole message', () => {
    for (const w of ['STOP', 'stop', 'Unsubscribe', 'END', 'quit', 'CANCEL', 'revoke', 'OPTOUT', 'StopAll', ' stop. ']) expect(keywordOf(w)).toBe('STOP');
    for (const w of ['START', 'yes', 'Unstop']) expect(keywordOf(w)).toBe('START');
    expect(keywordOf('help')).toBe('HELP');
    expect(keywordOf("can't stop now")).toBeNull();
  });
});

describe('the Twilio transport', () => {
  it('the in-request detector sees an SDK call made on the request path', async () => {
    const fake = new FakeTwilio();
    const client = createTwilioClient({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, httpClient: fake });
    await inRequest.run(true, () => client.messages.create({ to: '+14155551234', from: '+15005550006', body: 'x' }));
    expect(fake.duringRequest).toHaveLength(1);
  });
  it('TWILIO_API_BASE rewrites the origin and keeps the path', async () => {
    const seen: string[] = [];
    const fake = new FakeTwilio();
    const client = createTwilioClient({
      accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBase: 'http://127.0.0.1:4010',
      httpClient: { request: (o) => (seen.push(o.uri), fake.request({ ...o, uri: o.uri.replace('http://127.0.0.1:4010', 'https://api.twilio.com') })) },
    });
    const m = await client.messages.create({ to: '+14155551234', from: '+15005550006', body: 'hi' });
    expect(m.sid).toMatch(/^SM/);
    expect(seen).toEqual([`http://127.0.0.1:4010/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`]);
    await expect(client.messages.create({ to: '+14155551234', from: '+15005550006', body: 'hi' }).then(() => { fake.down = true; return client.messages.create({ to: '+1', body: 'x', from: '+1' }); }))
      .rejects.toBeInstanceOf(twilio.RestException);
  });
});
