import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { inSpan, swanTracer } from '@swan/core';

// Twilio API calls through @opentelemetry/api (no-ops without an SDK): one CLIENT span per HTTP
// request, named by method and path template. Account and message SIDs become {sid}; phone
// numbers, message texts and query strings are never recorded.

/** `/2010-04-01/Accounts/AC…/Messages.json?To=…` → `/2010-04-01/Accounts/{sid}/Messages.json`. */
export function twilioPathTemplate(uri: string): string {
  let path: string;
  try {
    path = new URL(uri).pathname;
  } catch {
    path = uri.split('?')[0] ?? '/';
  }
  return path.split('/').map((s) => (/^[A-Z]{2}[0-9a-fA-F]{32}(\.json)?$/.test(s) ? `{sid}${s.endsWith('.json') ? '.json' : ''}` : s)).join('/');
}

/** Runs one Twilio HTTP request in a span `twilio <METHOD> <path template>`. */
export function traceTwilioRequest<T extends { statusCode: number }>(method: string, uri: string, fn: () => Promise<T>): Promise<T> {
  const template = twilioPathTemplate(uri);
  let host = '';
  try {
    host = new URL(uri).host;
  } catch {
    // not an absolute URL: no server.address
  }
  const verb = method.toUpperCase();
  const attributes = { 'http.request.method': verb, 'url.template': template, ...(host ? { 'server.address': host } : {}) };
  return inSpan(swanTracer('@swan/checkins'), `twilio ${verb} ${template}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    const response = await fn();
    span.setAttribute('http.response.status_code', response.statusCode);
    if (response.statusCode >= 400) {
      span.setAttribute('error.type', String(response.statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(response.statusCode) });
    }
    return response;
  });
}
