"""skuhub runtime: settings, database, outbox/inbox, consumers, telemetry, HTTP."""
