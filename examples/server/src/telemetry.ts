import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Logger, ServerConfig } from './modules/types.js';

/** The OpenTelemetry SDK as the example server runs it. */
export interface Telemetry {
  /** `http://<host>:<port>/metrics` when `METRICS_PORT` is set. */
  metricsUrl?: string;
  /** Flushes and stops exporters, closes the metrics port and uninstalls the SDK. */
  shutdown(): Promise<void>;
}

/** Extra exporters (tests: an in-memory span exporter, a manual metric reader). */
export interface TelemetryOptions {
  spanProcessors?: SpanProcessor[];
  metricReaders?: IMetricReader[];
}

function listenMetrics(exporter: PrometheusExporter, port: number, host: string): Promise<Server> {
  const server = createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') return exporter.getMetricsRequestHandler(req, res);
    res.statusCode = 404;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end('Not found: metrics are served at GET /metrics\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/**
 * Installs the OpenTelemetry SDK the packages' `@opentelemetry/api` calls report to, before
 * anything else starts:
 *
 * - metrics, when `METRICS_PORT` is set: Prometheus text at `GET /metrics` on that port (not the
 *   public one); and over OTLP/HTTP every 60 s when `OTEL_EXPORTER_OTLP_ENDPOINT` is set;
 * - traces, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: batched to `<endpoint>/v1/traces`, with the
 *   W3C trace-context propagator and async-context tracking.
 *
 * With neither set nothing is installed and every span and instrument stays a no-op. A process
 * that already has a global SDK (a host that installed its own) keeps it: the server logs that
 * and reports to it.
 *
 * @example
 * ```ts
 * const telemetry = await startTelemetry(config, logger);
 * // … serve …
 * await telemetry.shutdown();
 * ```
 */
export async function startTelemetry(config: ServerConfig, logger: Logger, options: TelemetryOptions = {}, host = '0.0.0.0'): Promise<Telemetry> {
  const resource = resourceFromAttributes({ 'service.name': config.env.OTEL_SERVICE_NAME || 'swan-example-server' });
  const endpoint = config.otlpEndpoint?.replace(/\/+$/, '');
  const stops: Array<() => Promise<void>> = [];
  let metricsUrl: string | undefined;

  const readers: IMetricReader[] = [...(options.metricReaders ?? [])];
  let prometheus: PrometheusExporter | undefined;
  if (config.metricsPort !== undefined) {
    prometheus = new PrometheusExporter({ preventServerStart: true });
    readers.push(prometheus);
  }
  if (endpoint) readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }), exportIntervalMillis: 60_000 }));
  if (readers.length) {
    const provider = new MeterProvider({ resource, readers });
    if (metrics.setGlobalMeterProvider(provider)) {
      stops.push(async () => {
        await provider.shutdown();
        metrics.disable();
      });
    } else {
      logger.warn('telemetry: another metrics SDK is installed in this process; the server reports to it');
      await provider.shutdown();
      prometheus = undefined;
    }
  }
  if (prometheus && config.metricsPort !== undefined) {
    const server = await listenMetrics(prometheus, config.metricsPort, host);
    const port = (server.address() as AddressInfo).port;
    metricsUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/metrics`;
    stops.unshift(() => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  }

  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (endpoint) processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` })));
  if (processors.length) {
    const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
    if (trace.setGlobalTracerProvider(provider)) {
      // spans follow async calls; trace context travels as W3C `traceparent` (HTTP, outbox, NATS)
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      stops.push(async () => {
        await provider.shutdown();
        trace.disable();
        context.disable();
        propagation.disable();
      });
    } else {
      logger.warn('telemetry: another tracing SDK is installed in this process; the server reports to it');
      await provider.shutdown();
    }
  }

  logger.info('telemetry', {
    metrics: metricsUrl ? `Prometheus at ${metricsUrl}` : 'no METRICS_PORT: no /metrics endpoint',
    otlp: endpoint ? `traces and metrics to ${new URL(endpoint).origin}` : 'no OTEL_EXPORTER_OTLP_ENDPOINT: nothing exported',
  });
  let stopped: Promise<void> | undefined;
  return {
    ...(metricsUrl ? { metricsUrl } : {}),
    shutdown() {
      stopped ??= (async () => {
        for (const stop of stops) {
          try {
            await stop();
          } catch (error) {
            logger.warn('telemetry shutdown failed', { error: error instanceof Error ? error.message : String(error) });
          }
        }
      })();
      return stopped;
    },
  };
}
