export { createOutbox, type Outbox, type OutboxOptions, type OutboxEventInput, type PublishResult, type OutboxStats, type DeadEvent, type DeadEventsOptions, type PruneOptions } from './outbox.service.js';
export { createWorker, backoffDelay, PermanentError, UnavailableError, type Worker, type WorkerOptions, type OutboxHandler, type OutboxHandlerSteps, type HandlerContext, type ListenSource, type PushChannel } from './worker.js';
export { parseScheduleKey, type OutboxEvent } from './sql.js';
export {
  createScheduler, createScheduleStore, setSchedule, removeSchedule, scheduleKey, validateSchedule,
  type Schedule, type Scheduler, type SchedulerOptions, type ScheduleStore, type StoredSchedule,
} from './schedules.js';
export {
  runRetention, outboxRetentionRules, auditRetentionRule, parseDuration, deleteInBatches, tableExists,
  type RetentionRule, type RetentionResult, type RunRetentionOptions, type OutboxRetentionOptions,
} from './retention.js';
export { builtInValidators, validateEvent, type PayloadValidator, type SwanEventMap, type SwanEventType } from './events.js';
export { outboxRoutes } from './http.js';
export { migrations } from './generated/migrations.js';
export { observeOutbox } from './telemetry.js';
export { outboxProcessingRecord } from './ropa.js';
