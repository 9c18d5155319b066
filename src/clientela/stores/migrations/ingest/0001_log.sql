-- Ingest log store, version 1 (docs/api.md). Before it, these tables were in the operational
-- store (its versions 3 to 5); they are alone in this file so that the API's group commits never
-- wait for the worker's writes to the serving tables.
-- The ingest log is the API's durable acknowledgement: a call is answered 202 only once its row
-- is committed here. The worker that owns the analytics store applies the log in id order (its
-- `api_ingest_state.applied_through`) and records what each call did in the operational store's
-- api_outcomes: it never writes here but to clear old rows.
CREATE TABLE ingest_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the ingest id; never reused
    received_at TEXT NOT NULL,         -- ISO 8601, UTC
    key_id INTEGER NOT NULL,           -- api_keys.id of the operational store
    kind TEXT NOT NULL,                -- orders, order_status, customers, events, identify, erasure
    records INTEGER NOT NULL,
    payload TEXT NOT NULL,             -- JSON, as validated
    idempotency_key TEXT,              -- cleared once [api] idempotency_hours have passed
    request_hash TEXT                  -- SHA-256 of method, path and body: a reused key must match
);
CREATE UNIQUE INDEX ingest_log_idempotency ON ingest_log (key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The newest acknowledged status of each order sent or changed through the API, written in the
-- transaction that logs the call, so that two status changes in a row are checked in order.
CREATE TABLE api_order_status (
    store_code TEXT NOT NULL,
    order_number TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (store_code, order_number)
) WITHOUT ROWID;
