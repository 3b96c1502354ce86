-- @swan/outbox: trace context of events. W3C trace context ({ "traceparent", "tracestate" }) of
-- the span that published the event, so the span of its handler joins the publisher's trace in
-- whichever process claims it. Null when no tracing SDK was installed at publish time. Holds
-- ids of spans only, never data.
alter table swan_outbox add column trace_context jsonb;
alter table swan_outbox_archive add column trace_context jsonb;
