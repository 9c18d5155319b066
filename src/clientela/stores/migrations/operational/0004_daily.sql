-- Operational store, version 3: the daily service. The instance's SFTP account, the scheduler's
-- jobs, the history of daily runs, the files taken from the drop folder, and alerts.

-- One account per instance (its user name is the instance name), so at most one row.
CREATE TABLE sftp_account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT,                -- scrypt$N$r$p$salt$hash (base64); NULL: keys only
    created_at TEXT NOT NULL,          -- ISO 8601, UTC
    updated_at TEXT NOT NULL
);

CREATE TABLE sftp_keys (
    fingerprint TEXT PRIMARY KEY,      -- SHA256:... as `ssh-keygen -lf` shows it
    public_key TEXT NOT NULL,          -- OpenSSH one-line form, without comment
    comment TEXT,
    added_at TEXT NOT NULL
);

-- APScheduler's SQLAlchemyJobStore table, exactly as the job store would create it; the
-- scheduled jobs (daily run, files-due check) and their next run time live here, so a run
-- missed while the service was down is found when it starts again.
CREATE TABLE apscheduler_jobs (
    id VARCHAR(191) NOT NULL PRIMARY KEY,
    next_run_time FLOAT,               -- Unix time, UTC
    job_state BLOB NOT NULL
);
CREATE INDEX ix_apscheduler_jobs_next_run_time ON apscheduler_jobs (next_run_time);

CREATE TABLE daily_runs (
    id INTEGER PRIMARY KEY,
    trigger TEXT NOT NULL,             -- schedule, late (missed while down, run on return), manual
    scheduled_for TEXT,                -- ISO 8601, UTC: when the run was due
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT NOT NULL,             -- running, succeeded, failed, interrupted
    as_of TEXT,                        -- YYYY-MM-DD, the instance's local date
    days_loaded INTEGER NOT NULL DEFAULT 0,
    profiles INTEGER,
    indicator_run INTEGER,             -- indicator_runs.run_id in the analytics store
    message TEXT
);

CREATE TABLE drop_files (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,                -- file name as uploaded
    bytes INTEGER NOT NULL,
    taken_at TEXT NOT NULL,            -- ISO 8601, UTC
    complete_by TEXT NOT NULL,         -- closed (built-in server), marker (.done), stable (size)
    outcome TEXT NOT NULL,             -- received (in the inbox), refused (its name), failed
    message TEXT
);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    raised_at TEXT NOT NULL,           -- ISO 8601, UTC
    kind TEXT NOT NULL,                -- files_missing, run_failed, reject_rate
    day TEXT,                          -- business day concerned, YYYY-MM-DD
    message TEXT NOT NULL,             -- one line, no personal data
    details TEXT NOT NULL,             -- JSON object
    dedup_key TEXT NOT NULL UNIQUE,    -- the same problem raises one alert
    delivery TEXT NOT NULL,            -- none (no webhook), pending, delivered, failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    delivered_at TEXT,
    last_error TEXT
);
CREATE INDEX alerts_pending ON alerts (delivery, next_attempt_at);
