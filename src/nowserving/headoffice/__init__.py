"""The head office: every branch's event log, ingested through the broker bridge into
PostgreSQL (docs/headoffice.md). Needs the `headoffice` extra (psycopg 3)."""
