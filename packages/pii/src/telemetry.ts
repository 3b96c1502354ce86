import { SpanKind } from '@opentelemetry/api';
import { inSpan, swanTracer } from '@swan/core';

// PII reads through @opentelemetry/api (no-ops without an SDK): the span says who read for which
// stated purpose and what came of it, never a value, a client's data or the free text of a note.

const PURPOSE = /^([a-z][a-z0-9_]{0,63})(?=$|:)/;

/**
 * The purpose as a span may carry it: the leading snake_case identifier of the stated reason
 * (`session_planning`, `checkin_sms: …` → `checkin_sms`), else `unspecified` (free text is never
 * recorded).
 */
export function purposeLabel(reason: string): string {
  return PURPOSE.exec(reason)?.[1] ?? 'unspecified';
}

/** Runs one audited PII read inside a `pii read` span with `swan.pii.purpose`, action, actor role and outcome. */
export function tracePiiRead<T>(read: { action: string; reason: string; role: string }, fn: () => Promise<T>): Promise<T> {
  const attributes = { 'swan.pii.action': read.action, 'swan.pii.purpose': purposeLabel(read.reason), 'swan.actor.role': read.role };
  return inSpan(swanTracer('@swan/pii'), 'pii read', { kind: SpanKind.INTERNAL, attributes }, async (span) => {
    const result = await fn();
    span.setAttribute('swan.pii.outcome', 'allowed');
    return result;
  });
}
