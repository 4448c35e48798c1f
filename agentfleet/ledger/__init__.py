"""The UTC task ledger: one row per workflow run, in SQLite or PostgreSQL."""
