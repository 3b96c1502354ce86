import { sql, type Kysely } from 'kysely';
import { checkText, errors, isRetryable, isUniqueViolation, withActor, type Actor, type ClientDataSealer, type EventPublisher, type ExportContributor, type Guard } from '@swan/core';
import { requireConsentWith, type RequireConsentOptions } from './guard.js';
import { queryConsentStatus } from './status.js';
import {
  REPLACED_REASON,
  type ClientConsent,
  type ClientConsentWithText,
  type ConsentMethod,
  type ConsentStatus,
  type ConsentType,
  type ConsentVersion,
} from './types.js';
import {
  booleanOf,
  clientIdOf,
  consentTypeOf,
  dateOf,
  expiryOf,
  ipOf,
  methodOf,
  objectOf,
  signatureOf,
  userAgentOf,
  versionOf,
} from './validation.js';

/** Options of {@link createConsent}. */
export interface ConsentServiceOptions {
  /** Application handle (`swan_app` on PostgreSQL). */
  db: Kysely<any>;
  /** When the outbox is installed: `consent_granted` / `consent_revoked` commit with the change. */
  events?: EventPublisher;
  /**
   * Seals the identifying proof (IP address, user agent, signature data) and a given revocation
   * reason under the client's data key, so erasure shreds them: `pii.sealer` of `@swan/pii`.
   * Without it they are stored in plaintext until the client is erased (erasure clears them).
   */
  sealer?: ClientDataSealer;
}

/** Input of {@link ConsentService.publishVersion}. */
export interface PublishVersionInput {
  version: string;
  /** `YYYY-MM-DD` (UTC): from this date on the version counts as current. */
  effectiveDate: string;
  fullText: string;
  summary?: string | null;
  changesFromPrevious?: string | null;
  requiresReConsent?: boolean;
}

/** Input of {@link ConsentService.grantConsent}: what was agreed to, and the proof. */
export interface GrantConsentInput {
  clientId: string;
  consentType: ConsentType;
  consentVersion: string;
  /** `false` records a refusal (it also replaces the previous record). Default `true`. */
  consentGranted?: boolean;
  ipAddress?: string | null;
  userAgent?: string | null;
  /** Default `web_form`. */
  consentMethod?: ConsentMethod;
  /** E.g. a base64 drawn signature; at most 64 KiB. */
  signatureData?: string | null;
  /** For consents that lapse; must be in the future. */
  expiresAt?: Date | string | null;
}

/** Input of {@link ConsentService.revokeConsent}. */
export interface RevokeConsentInput {
  clientId: string;
  consentType: ConsentType;
  /** Recorded with the revocation (sealed under the client's key with a sealer). Default `Consent withdrawn`. */
  reason?: string | null;
}

/** One row of {@link ConsentService.expiringConsents}. */
export interface ExpiringConsent {
  consentId: string;
  clientId: string;
  consentType: ConsentType;
  consentVersion: string;
  expiresAt: string;
}

const DEFAULT_REVOKE_REASON = 'Consent withdrawn';
/** Advisory-lock namespace for (client, type) pairs: 'SwnC'. */
const PAIR_LOCK = 1400336963;
const MAX_ATTEMPTS = 5;

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

/** Columns of a ledger row, in API shape (shared by every read). */
const CONSENT_COLUMNS = sql`c.id::text as id, c.client_id::text as client_id, c.consent_type, c.consent_version,
  c.consent_granted, c.ip_address, c.user_agent, c.consent_method, c.signature_data,
  c.granted_at, c.expires_at, c.revoked_at, c.revoked_reason`;

/** Columns of a version row, in the shape {@link toVersion} reads. */
const VERSION_COLUMNS = sql`version, effective_date::text as effective_date, full_text, summary, changes_from_previous,
  requires_re_consent, text_sha256, created_at`;

interface ConsentRow {
  id: string;
  client_id: string;
  consent_type: ConsentType;
  consent_version: string;
  consent_granted: boolean;
  ip_address: string | null;
  user_agent: string | null;
  consent_method: ConsentMethod;
  signature_data: string | null;
  granted_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

interface VersionRow {
  version: string;
  effective_date: string;
  full_text: string;
  summary: string | null;
  changes_from_previous: string | null;
  requires_re_consent: boolean;
  text_sha256: string;
  created_at: Date;
}

function toConsent(r: ConsentRow): ClientConsent {
  return {
    id: r.id,
    clientId: r.client_id,
    consentType: r.consent_type,
    consentVersion: r.consent_version,
    consentGranted: r.consent_granted,
    ipAddress: r.ip_address,
    userAgent: r.user_agent,
    consentMethod: r.consent_method,
    signatureData: r.signature_data,
    grantedAt: iso(r.granted_at)!,
    expiresAt: iso(r.expires_at),
    revokedAt: iso(r.revoked_at),
    revokedReason: r.revoked_reason,
    active: r.revoked_at === null,
  };
}

/** The proof fields of a ledger row and what each sealed value is bound to. */
const SEALED_FIELDS = [
  ['ip_address', 'consent.ip_address'],
  ['user_agent', 'consent.user_agent'],
  ['signature_data', 'consent.signature_data'],
  ['revoked_reason', 'consent.revoked_reason'],
] as const;

/** A ledger row with its sealed values opened (`null` once the client's key is shredded); unchanged without a sealer. */
async function opened<R extends ConsentRow>(trx: Kysely<any>, sealer: ClientDataSealer | undefined, row: R): Promise<R> {
  if (!sealer) return row;
  const out = { ...row };
  for (const [column, field] of SEALED_FIELDS) {
    const v = row[column];
    if (v !== null) out[column] = await sealer.open(trx, row.client_id, v, field);
  }
  return out;
}

function toVersion(r: VersionRow): ConsentVersion {
  return {
    version: r.version,
    effectiveDate: r.effective_date,
    fullText: r.full_text,
    summary: r.summary,
    changesFromPrevious: r.changes_from_previous,
    requiresReConsent: r.requires_re_consent,
    textSha256: r.text_sha256,
    createdAt: iso(r.created_at)!,
  };
}

/** Admins act for anyone; a client only for itself. Everyone else: `FORBIDDEN`. */
function assertActsFor(actor: Actor, clientId: string): void {
  if (actor.role === 'admin') return;
  if (actor.role === 'client' && actor.id.toLowerCase() === clientId) return;
  throw errors.forbidden('Only an admin or the client themself may manage this client’s consents');
}

/**
 * Creates the consent ledger: versioned texts, grants with proof, revocation, validity checks,
 * the `requireConsent` guard and the data-subject export contributor.
 *
 * Writes run in `withActor` transactions, so row-level security applies: admins manage every
 * client, a client only itself.
 *
 * @example
 * ```ts
 * const consent = createConsent({ db, events: outbox });
 * await consent.grantConsent({ id: clientId, role: 'client' }, {
 *   clientId, consentType: 'ai_processing', consentVersion: '3.0', ipAddress: '203.0.113.7',
 * });
 * await consent.hasValidConsent(clientId, 'ai_processing'); // true
 * ```
 */
export function createConsent(options: ConsentServiceOptions): ConsentService {
  return new ConsentService(options);
}

/** The consent service {@link createConsent} returns (the package exports it as a type only). */
export class ConsentService {
  readonly db: Kysely<any>;
  readonly events: EventPublisher | undefined;
  readonly sealer: ClientDataSealer | undefined;

  constructor(options: ConsentServiceOptions) {
    this.db = options.db;
    this.events = options.events;
    this.sealer = options.sealer;
  }

  /**
   * Publishes a consent text (admin). Versions are immutable: publishing an existing version is
   * `CONFLICT`. A version with `requiresReConsent` invalidates consents on older versions from its
   * effective date on.
   *
   * @example
   * ```ts
   * await consent.publishVersion(admin, { version: '3.1', effectiveDate: '2026-01-01', fullText, requiresReConsent: true });
   * ```
   */
  async publishVersion(actor: Actor, input: PublishVersionInput): Promise<ConsentVersion> {
    const body = objectOf(input, 'The version');
    const version = versionOf(body.version, 'version');
    const effectiveDate = dateOf(body.effectiveDate, 'effectiveDate');
    const fullText = checkText(body.fullText, 'fullText', { max: 1_048_576, multiline: true, required: true });
    const summary = checkText(body.summary, 'summary', { max: 10_000, multiline: true });
    const changes = checkText(body.changesFromPrevious, 'changesFromPrevious', { max: 10_000, multiline: true });
    const requiresReConsent = booleanOf(body.requiresReConsent, 'requiresReConsent', false);
    if (actor.role !== 'admin') throw errors.forbidden('Only an admin may publish consent versions');
    try {
      return await withActor(this.db, actor, async (trx) => {
        const { rows } = await sql<VersionRow>`
          insert into consent_versions (version, effective_date, full_text, summary, changes_from_previous, requires_re_consent)
          values (${version}, ${effectiveDate}::date, ${fullText}, ${summary}, ${changes}, ${requiresReConsent})
          returning ${VERSION_COLUMNS}`.execute(trx);
        return toVersion(rows[0]!);
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw errors.conflict(`Consent version ${version} is already published; versions are immutable`, { version });
      throw e;
    }
  }

  /** A published version, or `null`. */
  async getVersion(version: string): Promise<ConsentVersion | null> {
    const v = versionOf(version, 'version');
    const { rows } = await sql<VersionRow>`
      select ${VERSION_COLUMNS} from consent_versions where version = ${v}`.execute(this.db);
    return rows[0] ? toVersion(rows[0]) : null;
  }

  /** Every published version, newest first (effective date, then version number). */
  async listVersions(): Promise<ConsentVersion[]> {
    const { rows } = await sql<VersionRow>`
      select ${VERSION_COLUMNS} from consent_versions order by effective_date desc, version_key desc`.execute(this.db);
    return rows.map(toVersion);
  }

  /**
   * Records a grant (or, with `consentGranted: false`, a refusal) with its proof. In one
   * transaction it locks the (client, type) pair, revokes the active record of that type with the
   * reason "Replaced by new consent" and inserts the new one, so concurrent grants end with
   * exactly one active record. Unknown client or version: `NOT_FOUND`; nothing is written. With a
   * sealer the IP address, user agent and signature data are stored sealed under the client's
   * data key; the answer carries them opened.
   *
   * @example
   * ```ts
   * const c = await consent.grantConsent(actor, {
   *   clientId, consentType: 'wearable_integration', consentVersion: '3.0',
   *   ipAddress: req.ip, userAgent: req.headers['user-agent'], consentMethod: 'web_form',
   * });
   * ```
   */
  async grantConsent(actor: Actor, input: GrantConsentInput): Promise<ClientConsent> {
    const body = objectOf(input, 'The consent');
    const clientId = clientIdOf(body.clientId);
    const type = consentTypeOf(body.consentType);
    const version = versionOf(body.consentVersion);
    const granted = booleanOf(body.consentGranted, 'consentGranted', true);
    const method = methodOf(body.consentMethod);
    const signature = signatureOf(body.signatureData);
    const ip = ipOf(body.ipAddress);
    const userAgent = userAgentOf(body.userAgent);
    const expiresAt = expiryOf(body.expiresAt, new Date());
    assertActsFor(actor, clientId);

    return this.retrying(() =>
      withActor(this.db, actor, async (trx) => {
        await this.lockPair(trx, clientId, type);
        // the client's row stays locked until commit, so a racing erasure can't slip in between
        const { rows: found } = await sql<{ live: boolean; version: boolean }>`
          select swan_pii_lock_live_client(${clientId}::uuid) as live,
                 exists (select 1 from consent_versions where version = ${version}) as version`.execute(trx);
        if (!found[0]?.live) throw errors.notFound('Client not found');
        if (!found[0]?.version) throw errors.notFound(`Consent version ${version} is not published`, { consentVersion: version });

        await sql`update client_consents set revoked_at = clock_timestamp(), revoked_reason = ${REPLACED_REASON}
                   where client_id = ${clientId}::uuid and consent_type = ${type} and revoked_at is null`.execute(trx);
        const seal = (v: string | null, field: string) => (v === null || !this.sealer ? v : this.sealer.seal(trx, clientId, v, field));
        const { rows } = await sql<ConsentRow>`
          insert into client_consents as c (client_id, consent_version, consent_type, consent_granted, ip_address,
                                            user_agent, consent_method, signature_data, expires_at)
          values (${clientId}::uuid, ${version}, ${type}, ${granted}, ${await seal(ip, 'consent.ip_address')},
                  ${await seal(userAgent, 'consent.user_agent')}, ${method}, ${await seal(signature, 'consent.signature_data')},
                  ${expiresAt}::timestamptz)
          returning ${CONSENT_COLUMNS}`.execute(trx);
        const consent = toConsent({ ...rows[0]!, ip_address: ip, user_agent: userAgent, signature_data: signature });
        await this.publish(trx, granted ? 'consent_granted' : 'consent_revoked', consent, granted ? {} : { declined: true });
        return consent;
      }),
    );
  }

  /**
   * Withdraws the client's active consent of a type (GDPR art. 7(3)). Effective for the very next
   * check: nothing is cached. Nothing active to revoke: `NOT_FOUND`. With a sealer a given reason
   * is stored sealed under the client's data key (the default reason is a fixed text).
   *
   * @example
   * ```ts
   * await consent.revokeConsent(actor, { clientId, consentType: 'ai_processing', reason: 'Changed my mind' });
   * ```
   */
  async revokeConsent(actor: Actor, input: RevokeConsentInput): Promise<ClientConsent> {
    const body = objectOf(input, 'The revocation');
    const clientId = clientIdOf(body.clientId);
    const type = consentTypeOf(body.consentType);
    const given = checkText(body.reason, 'reason', { max: 1000, multiline: true });
    assertActsFor(actor, clientId);
    return this.retrying(() =>
      withActor(this.db, actor, async (trx) => {
        await this.lockPair(trx, clientId, type);
        const { rows: active } = await sql`select 1 from client_consents
          where client_id = ${clientId}::uuid and consent_type = ${type} and revoked_at is null`.execute(trx);
        if (!active[0]) throw errors.notFound(`No active ${type} consent to revoke for this client`);
        const reason = given === null ? DEFAULT_REVOKE_REASON : this.sealer ? await this.sealer.seal(trx, clientId, given, 'consent.revoked_reason') : given;
        const { rows } = await sql<ConsentRow>`
          update client_consents as c set revoked_at = clock_timestamp(), revoked_reason = ${reason}
           where c.client_id = ${clientId}::uuid and c.consent_type = ${type} and c.revoked_at is null
          returning ${CONSENT_COLUMNS}`.execute(trx);
        const consent = toConsent(await opened(trx, this.sealer, rows[0]!));
        await this.publish(trx, 'consent_revoked', consent, {});
        return consent;
      }),
    );
  }

  /**
   * Where a client stands for one type, at `at` (default: now). One indexed query, uncached.
   *
   * @example
   * ```ts
   * const s = await consent.consentStatus(clientId, 'ai_processing');
   * if (s.status === 'reconsent') showText(s.currentVersion);
   * ```
   */
  async consentStatus(clientId: string, consentType: ConsentType, options: { at?: Date } = {}): Promise<ConsentStatus> {
    return queryConsentStatus(this.db, clientIdOf(clientId), consentTypeOf(consentType), options.at);
  }

  /**
   * True when the client's active record of this type grants consent, is not expired (at `at`,
   * default now), and is not on a version older than the newest effective version that requires
   * re-consent.
   *
   * @example
   * ```ts
   * if (!(await consent.hasValidConsent(clientId, 'photo_analysis'))) return;
   * ```
   */
  async hasValidConsent(clientId: string, consentType: ConsentType, options: { at?: Date } = {}): Promise<boolean> {
    return (await this.consentStatus(clientId, consentType, options)).status === 'valid';
  }

  /**
   * Every record of a client, newest first, with the full text, summary and text hash agreed to
   * (admin, or the client itself). Unknown client: `NOT_FOUND`.
   *
   * @example
   * ```ts
   * const history = await consent.getClientConsents(admin, clientId);
   * ```
   */
  async getClientConsents(actor: Actor, clientId: string): Promise<ClientConsentWithText[]> {
    const id = clientIdOf(clientId);
    assertActsFor(actor, id);
    return withActor(this.db, actor, async (trx) => {
      const { rows } = await sql<{ state: string | null }>`select swan_consent_client_state(${id}::uuid) as state`.execute(trx);
      if (!rows[0]?.state) throw errors.notFound('Client not found');
      return readConsentsWithText(trx, id, this.sealer);
    });
  }

  /**
   * Active, granted consents that expire within `withinDays` days from now (admin): the sweep a
   * job runs to ask clients to renew.
   *
   * @example
   * ```ts
   * for (const c of await consent.expiringConsents(admin, 14)) notify(c.clientId, c.consentType);
   * ```
   */
  async expiringConsents(actor: Actor, withinDays: number): Promise<ExpiringConsent[]> {
    if (!Number.isInteger(withinDays) || withinDays < 0 || withinDays > 3650) {
      throw errors.validation('withinDays must be an integer from 0 to 3650', { field: 'withinDays' });
    }
    if (actor.role !== 'admin') throw errors.forbidden('Only an admin may sweep expiring consents');
    return withActor(this.db, actor, async (trx) => {
      const { rows } = await sql<{ id: string; client_id: string; consent_type: ConsentType; consent_version: string; expires_at: Date }>`
        select id::text as id, client_id::text as client_id, consent_type, consent_version, expires_at
          from client_consents
         where revoked_at is null and consent_granted and expires_at is not null
           and expires_at > now() and expires_at <= now() + make_interval(days => ${withinDays}::int)
         order by expires_at, id`.execute(trx);
      return rows.map((r) => ({
        consentId: r.id,
        clientId: r.client_id,
        consentType: r.consent_type,
        consentVersion: r.consent_version,
        expiresAt: iso(r.expires_at)!,
      }));
    });
  }

  /**
   * A route guard: 403 `CONSENT_REQUIRED` unless the client has valid consent of `type`, or 403
   * `RECONSENT_REQUIRED` (details: the version to show) when it was given on an outdated version.
   * See {@link requireConsentWith} for how the client is found.
   *
   * @example
   * ```ts
   * const route: Route = { method: 'POST', path: '/api/ai-village/query', access: ['client'],
   *   guards: [consent.requireConsent('ai_processing')], handler };
   * ```
   */
  requireConsent(type: ConsentType, options: RequireConsentOptions = {}): Guard {
    return requireConsentWith(this.db, type, options);
  }

  /**
   * The data-subject export's `consents` part: every record with the text agreed to.
   *
   * @example
   * ```ts
   * const routes = piiRoutes({ service: createPii({ db, keys, indexKey }), exportContributors: [consent.exportContributor()] });
   * ```
   */
  exportContributor(): ExportContributor {
    return {
      name: 'consents',
      collect: (trx, clientId) => readConsentsWithText(trx, clientIdOf(clientId), this.sealer),
    };
  }

  private async lockPair(trx: Kysely<any>, clientId: string, type: ConsentType): Promise<void> {
    await sql`select pg_advisory_xact_lock(${PAIR_LOCK}::int, hashtext(${`${clientId}/${type}`}))`.execute(trx);
  }

  private async publish(trx: Kysely<any>, eventType: string, c: ClientConsent, extra: Record<string, unknown>): Promise<void> {
    if (!this.events) return;
    await this.events.publish(trx, {
      eventType,
      aggregateType: 'client',
      aggregateId: c.clientId,
      payload: { clientId: c.clientId, consentType: c.consentType, consentVersion: c.consentVersion, consentId: c.id, ...extra },
    });
  }

  /** Retries a write whose transaction lost a race (unique violation, serialization failure, deadlock). */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (attempt >= MAX_ATTEMPTS || !(isUniqueViolation(e) || isRetryable(e))) throw e;
      }
    }
  }
}

/** Every record of a client with its text, newest first, sealed values opened (runs under the caller's row-level security). */
async function readConsentsWithText(trx: Kysely<any>, clientId: string, sealer: ClientDataSealer | undefined): Promise<ClientConsentWithText[]> {
  const { rows } = await sql<ConsentRow & { full_text: string; summary: string | null; text_sha256: string; effective_date: string }>`
    select ${CONSENT_COLUMNS}, v.full_text, v.summary, v.text_sha256, v.effective_date::text as effective_date
      from client_consents c join consent_versions v on v.version = c.consent_version
     where c.client_id = ${clientId}::uuid
     order by c.granted_at desc, c.id`.execute(trx);
  const open: typeof rows = [];
  for (const r of rows) open.push(await opened(trx, sealer, r));
  return open.map((r) => ({
    ...toConsent(r),
    fullText: r.full_text,
    summary: r.summary,
    textSha256: r.text_sha256,
    effectiveDate: r.effective_date,
  }));
}
