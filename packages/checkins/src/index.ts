export { migrations } from './generated/migrations.js';
export {
  createCheckins, parseCheckInInput, keywordOf, PermanentDeliveryError, ClaimHeldError,
  CHECKIN_KINDS, CHECKIN_EVENT, CHECKINS_SERVICE_ACTOR, PHONE_PURPOSE, DEFAULT_TEXTS,
  type Checkins, type CheckinsOptions, type CheckinsPii, type CheckinEvent, type CheckinTexts, type CheckInKind,
  type ScheduleCheckInInput, type DailyScheduleInput, type InboundResult,
} from './checkins.service.js';
export { checkinsRoutes, type CheckinsRoutesOptions } from './http.js';
export { isTimeZone, zonedTimeToUtc, nextDailyOccurrence, LOCAL_TIME } from './timezone.js';
export {
  createTwilioClient, withIdempotencyKey, classifyTwilioError, PERMANENT_TWILIO_CODES, TWILIO_UNSUBSCRIBED, IDEMPOTENCY_HEADER,
  type TwilioClient, type TwilioClientOptions, type TwilioHttpClient, type TwilioHttpRequest, type TwilioHttpResponse, type TwilioFailure,
} from './twilio.js';
export { checkinsRetentionRules, type CheckinsRetentionRule } from './retention.js';
