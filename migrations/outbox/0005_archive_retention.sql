-- Retention removes archived events after their window (outboxRetentionRules: outbox.archive).
grant delete on swan_outbox_archive to swan_app;
