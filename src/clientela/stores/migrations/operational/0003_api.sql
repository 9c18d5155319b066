-- Operational store, version 3: the realtime API (docs/api.md).
-- The ingest log is the API's durable acknowledgement: a call is answered 202 only once its row
-- is committed here. The worker that owns the analytics store applies the log in order and marks
-- each row applied; the serving tables are what API processes read (they never open DuckDB).

-- API keys, stored as SHA-256 hashes; the key itself is shown once, at creation.
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,         -- SHA-256 (hex) of the whole key
    hint TEXT NOT NULL,                -- its first characters, to tell keys apart in lists
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,          -- ISO 8601, UTC
    revoked_at TEXT
);

CREATE TABLE ingest_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the ingest id; never reused
    received_at TEXT NOT NULL,         -- ISO 8601, UTC
    key_id INTEGER NOT NULL REFERENCES api_keys (id),
    kind TEXT NOT NULL,                -- orders, order_status, customers, events, identify, erasure
    records INTEGER NOT NULL,
    payload TEXT NOT NULL,             -- JSON, as validated
    idempotency_key TEXT,              -- cleared once [api] idempotency_hours have passed
    request_hash TEXT,                 -- SHA-256 of method, path and body: a reused key must match
    state TEXT NOT NULL DEFAULT 'pending', -- pending, applied, failed
    applied_at TEXT,
    outcome TEXT                       -- JSON: what applying did, records refused and why
);
CREATE UNIQUE INDEX ingest_log_idempotency ON ingest_log (key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX ingest_log_pending ON ingest_log (id) WHERE state = 'pending';

-- The newest acknowledged status of each order sent or changed through the API, written in the
-- transaction that logs the call, so that two status changes in a row are checked in order.
CREATE TABLE api_order_status (
    store_code TEXT NOT NULL,
    order_number TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (store_code, order_number)
) WITHOUT ROWID;

-- Serving copy of the identity map: every identifier value and the profile it belongs to.
CREATE TABLE serving_identifiers (
    type TEXT NOT NULL,
    scope TEXT NOT NULL,
    value TEXT NOT NULL,               -- normalised as identity stores it
    client_id INTEGER NOT NULL,
    PRIMARY KEY (type, scope, value)
) WITHOUT ROWID;
CREATE INDEX serving_identifiers_client ON serving_identifiers (client_id);

-- Client ids merged into another profile: they still resolve.
CREATE TABLE serving_aliases (
    alias INTEGER PRIMARY KEY,
    client_id INTEGER NOT NULL
);

-- One JSON document per profile: identifiers, attributes, tags, consents, recognized, email.
CREATE TABLE serving_documents (
    client_id INTEGER PRIMARY KEY,
    document TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Orders as stored, with lines and categories, for GET /v1/orders.
CREATE TABLE serving_orders (
    store_code TEXT NOT NULL,
    order_number TEXT NOT NULL,
    scope TEXT NOT NULL,               -- StoreCode when customer ids are store-scoped, else ''
    user_id TEXT NOT NULL,
    order_ts TEXT NOT NULL,            -- ISO 8601, UTC
    order_date TEXT NOT NULL,          -- YYYY-MM-DD, the instance's local date
    status TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (store_code, order_number)
) WITHOUT ROWID;
CREATE INDEX serving_orders_user ON serving_orders (scope, user_id, order_ts);
CREATE INDEX serving_orders_date ON serving_orders (order_date, store_code, order_number);

-- The timeline: each event once per identifier it names, so it follows merges and splits.
CREATE TABLE serving_events (
    ingest_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    scope TEXT NOT NULL,
    value TEXT NOT NULL,
    occurred_at TEXT NOT NULL,         -- ISO 8601, UTC
    document TEXT NOT NULL,
    PRIMARY KEY (type, scope, value, occurred_at, ingest_id, seq)
) WITHOUT ROWID;

-- What the serving copy reflects of the analytics store (a fingerprint per table set).
CREATE TABLE serving_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
