-- Operational store, version 1: job history.

CREATE TABLE import_runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,          -- ISO 8601, UTC
    finished_at TEXT,
    outcome TEXT NOT NULL,             -- running, succeeded, failed, interrupted
    files INTEGER NOT NULL DEFAULT 0,
    days_loaded INTEGER NOT NULL DEFAULT 0,
    rows_rejected INTEGER NOT NULL DEFAULT 0,
    message TEXT
);
