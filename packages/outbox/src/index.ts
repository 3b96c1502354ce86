export { createOutbox, type Outbox, type OutboxOptions, type OutboxEventInput, type PublishResult, type OutboxStats, type DeadEvent, type DeadEventsOptions, type PruneOptions } from './outbox.service.js';
export { createWorker, backoffDelay, PermanentError, UnavailableError, type Worker, type WorkerOptions, type OutboxHandler, type OutboxHandlerSteps, type HandlerContext, type ListenSource } from './worker.js';
export type { OutboxEvent } from './sql.js';
export { builtInValidators, validateEvent, type PayloadValidator, type SwanEventMap, type SwanEventType } from './events.js';
export { outboxRoutes } from './http.js';
export { natsRelayHandler, ensureOutboxStream, connectNatsRelay, isNatsUnavailable, type NatsRelay, type NatsRelayOptions, type RelayedEvent } from './nats.js';
export { migrations } from './generated/migrations.js';
export { observeOutbox } from './telemetry.js';
