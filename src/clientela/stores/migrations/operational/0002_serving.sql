-- Operational store, version 2: the serving copy of the last published indicator run.
-- `clientela run` replaces both tables in one transaction: readers (the API, the dashboard) see
-- the previous run or the new one, never a mix.

CREATE TABLE serving_runs (
    run_id INTEGER PRIMARY KEY,
    as_of TEXT NOT NULL,               -- YYYY-MM-DD, the instance's local date
    published_at TEXT NOT NULL,        -- ISO 8601, UTC
    profiles INTEGER NOT NULL
);

CREATE TABLE serving_profiles (
    client_id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    rfm_group TEXT,
    rfm_segment TEXT,
    indicators TEXT NOT NULL           -- JSON object: indicator name -> value (lists as arrays)
);
