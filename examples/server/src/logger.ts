import type { Logger } from './modules/types.js';

export type { Logger };

/** Field names whose values are never written, whatever module logs them. */
const SECRET_FIELD = /secret|password|passwd|token|authorization|cookie|api[-_]?key|master[-_]?key|index[-_]?key|private|credential|signature|pii|email|phone|full_?name|date_of_birth|address/i;

/** Replaces the password part of connection strings (`postgres://user:pw@host` → `postgres://user:***@host`). */
function redactUrlPasswords(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
}

function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrlPasswords(value);
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, ...(typeof code === 'string' ? { code } : {}), message: redactUrlPasswords(value.message) };
  }
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

/**
 * A logger that writes one JSON object per line (`{ time, level, msg, ...fields }`) to `write`
 * (stdout by default). Fields named like secrets or PII (`password`, `token`, `email`, …) are
 * replaced by `[redacted]`, passwords inside connection strings by `***`, and errors are reduced to
 * name, code and message — but callers still must not pass PII or secrets in messages.
 *
 * @example
 * ```ts
 * const logger = createLogger();
 * logger.info('listening', { port: 3000 });
 * // {"time":"2025-…","level":"info","msg":"listening","port":3000}
 * ```
 */
export function createLogger(write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const log = (level: 'info' | 'warn' | 'error') => (msg: string, fields: Record<string, unknown> = {}) => {
    const entry = { time: new Date().toISOString(), level, msg: redactUrlPasswords(msg), ...(redact(fields) as Record<string, unknown>) };
    write(`${JSON.stringify(entry)}\n`);
  };
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
