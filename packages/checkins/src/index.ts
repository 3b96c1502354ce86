export { migrations } from './generated/migrations.js';
export { createCheckins } from './checkins.service.js';
export { CHECKIN_KINDS, CHECKIN_EVENT, CHECKINS_SERVICE_ACTOR, PHONE_PURPOSE, DEFAULT_TEXTS } from './context.js';
export { parseCheckInInput } from './validation.js';
export { checkinScheduleName, dailyCheckinSchedule } from './scheduling.js';
export { PermanentDeliveryError, ClaimHeldError } from './sending.js';
export { keywordOf } from './inbound.js';
export type {
  Checkins, CheckinsOptions, CheckinsPii, CheckinEvent, CheckinTexts, CheckInKind, ScheduleCheckInInput, DailyScheduleInput, InboundResult,
} from './types.js';
export { checkinsRoutes, type CheckinsRoutesOptions } from './http.js';
export { isTimeZone, zonedTimeToUtc, nextDailyOccurrence, LOCAL_TIME } from './timezone.js';
export {
  createTwilioClient, withIdempotencyKey, classifyTwilioError, PERMANENT_TWILIO_CODES, TWILIO_UNSUBSCRIBED, IDEMPOTENCY_HEADER,
  type TwilioClient, type TwilioClientOptions, type TwilioHttpClient, type TwilioHttpRequest, type TwilioHttpResponse, type TwilioFailure,
} from './twilio.js';
export { checkinsRetentionRules, type CheckinsRetentionRule } from './retention.js';
export { checkinsProcessingRecord } from './ropa.js';
