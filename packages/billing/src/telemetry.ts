import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { inSpan, swanTracer } from '@swan/core';

// Stripe API calls through @opentelemetry/api (no-ops without an SDK): one CLIENT span per HTTP
// request the SDK makes (its retries included), named by method and path template. Ids in the
// path become {id}; the query string and the bodies are never recorded.

/** `/v1/subscriptions/sub_123?expand[]=x` → `/v1/subscriptions/{id}`. */
export function stripePathTemplate(path: string): string {
  return (path.split('?')[0] ?? '/')
    .split('/')
    .map((segment) => (/^[a-z]+_(?=[A-Za-z0-9]*[A-Z0-9])[A-Za-z0-9]+$/.test(segment) ? '{id}' : segment))
    .join('/');
}

/** The subset of the Stripe SDK's `HttpClient` this wraps. */
interface StripeHttpClient {
  makeRequest(host: string, port: string, path: string, method: string, headers: any, requestData: string, protocol: string, timeout: number): Promise<{ getStatusCode(): number }>;
}

/**
 * Wraps a Stripe SDK HTTP client (`Stripe.createNodeHttpClient(agent)`) so every request runs in
 * a span `stripe <METHOD> <path template>` with `http.request.method`, `server.address`,
 * `url.template` and `http.response.status_code`.
 */
export function tracedStripeHttpClient<C extends StripeHttpClient>(client: C): C {
  const makeRequest = client.makeRequest.bind(client);
  client.makeRequest = (host, port, path, method, headers, requestData, protocol, timeout) => {
    const template = stripePathTemplate(path);
    const attributes = { 'http.request.method': method, 'server.address': host, 'url.template': template };
    return inSpan(swanTracer('@swan/billing'), `stripe ${method} ${template}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      const response = await makeRequest(host, port, path, method, headers, requestData, protocol, timeout);
      const status = response.getStatusCode();
      span.setAttribute('http.response.status_code', status);
      if (status >= 400) {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: SpanStatusCode.ERROR, message: String(status) });
      }
      return response;
    });
  };
  return client;
}
