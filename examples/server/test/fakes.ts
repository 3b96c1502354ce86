import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeTwilio } from '../../../packages/checkins/test/fake-twilio.js';

/** Serves a FakeTwilio over HTTP, as the SDK's default transport calls it (TWILIO_API_BASE). */
export async function serveFakeTwilio(fake: FakeTwilio): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [user, pass] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase())] = v;
      void fake.request({
        method: req.method!.toLowerCase(), uri: `https://api.twilio.com${req.url}`, username: user ?? '', password: pass ?? '',
        headers, data: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString())),
      }).then((r) => res.writeHead(r.statusCode, { 'content-type': 'application/json' }).end(r.body));
    });
  });
  return listenOn(server);
}

async function listenOn(server: Server): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

/** An ALERT_WEBHOOK_URL receiver: keeps every JSON document POSTed to it; answers `status` (default 204). */
export async function alertReceiver(): Promise<{ url: string; alerts: Array<Record<string, any>>; status: number; close(): Promise<void> }> {
  const alerts: Array<Record<string, any>> = [];
  const state = { status: 204 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (state.status < 300 && req.method === 'POST' && req.headers['content-type'] === 'application/json') alerts.push(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, any>);
      res.writeHead(state.status).end();
    });
  });
  const listening = await listenOn(server);
  return {
    ...listening,
    alerts,
    get status() { return state.status; },
    set status(v: number) { state.status = v; },
  };
}

/** Polls `check` every 50 ms until it is truthy or `ms` pass; returns its last value. */
export async function eventually<T>(check: () => Promise<T> | T, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await check();
  while (!value && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    value = await check();
  }
  return value;
}
