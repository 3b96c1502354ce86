import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { sql, type Kysely } from 'kysely';
import { mountSwan as mountExpress } from '@swan/express';
import { mountSwan as mountFastify } from '@swan/fastify';
import { errors, type Actor, type ActorResolver, type Route } from '@swan/core';
import { migrations as piiMigrations } from '@swan/pii';
import { insertClientRow } from '@swan/test-utils';
import { migrations as schemaMigrations } from '@swan/schema';

export const migrationSets = [piiMigrations, schemaMigrations];

/** Inserts a client as the owner (ciphertext columns hold placeholder bytes: PII is not ours). */
export const createClient = insertClientRow;

export async function assign(admin: Kysely<any>, trainerId: string, clientId: string): Promise<void> {
  await sql`insert into trainer_client_assignments (trainer_id, client_id) values (${trainerId}::uuid, ${clientId}::uuid)`.execute(admin);
}

export const actors = {
  admin: { id: randomUUID(), role: 'admin' },
  trainer: { id: randomUUID(), role: 'trainer' },
  otherTrainer: { id: randomUUID(), role: 'trainer' },
  ai: { id: randomUUID(), role: 'ai_service' },
} satisfies Record<string, Actor>;

/** Test auth: `Authorization: Bearer <name>` for the actors above (the example server uses JWTs). */
export const resolveActor: ActorResolver = (req) => {
  const header = req.headers.authorization;
  if (!header) return null;
  const name = header.replace(/^Bearer /, '');
  if (name.startsWith('client:')) return { id: name.slice(7), role: 'client' };
  const actor = (actors as Record<string, Actor>)[name];
  if (!actor) throw errors.unauthenticated('Unknown test token');
  return actor;
};

export interface RunningApp {
  name: 'express' | 'fastify';
  url: string;
  close(): Promise<void>;
}

/** Serves `routes` in-process through one adapter on a random port. */
export async function serve(name: 'express' | 'fastify', routes: Route[]): Promise<RunningApp> {
  if (name === 'express') {
    const app = express();
    mountExpress(app, routes, { actor: resolveActor });
    const server: Server = createServer(app);
    server.keepAliveTimeout = 60_000; // fetch reuses sockets: avoid a reset racing an idle close on a loaded machine
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { name, url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }
  const app = Fastify({ keepAliveTimeout: 60_000 });
  mountFastify(app, routes, { actor: resolveActor });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { name, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** JSON request helper: `{ status, body }`. */
export async function call(app: RunningApp, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(app.url + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}
