-- Analytics store, version 4: events from the realtime API, and how far its log is applied.

-- Track calls (page_view, product_view, add_to_cart, form.submit, custom names) and identify
-- calls, each with the identifiers it named, normalised as identity stores them.
CREATE TABLE events (
    ingest_id BIGINT NOT NULL,         -- the API call (operational ingest_log.id)
    seq INTEGER NOT NULL,              -- its position in the call, from 1
    event VARCHAR NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    identifiers STRUCT(type VARCHAR, scope VARCHAR, value VARCHAR)[] NOT NULL,
    properties JSON NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

-- The last ingest log id applied: written in the transaction that applies a micro-batch, so a
-- crash between that commit and the log's update never applies a call twice.
CREATE TABLE api_ingest_state (
    applied_through BIGINT NOT NULL
);
INSERT INTO api_ingest_state VALUES (0);
