-- Operational store, version 6: the ingest log and the API's order statuses move to a file of
-- their own (ingest.sqlite), whose only writer is the API's group commit: acknowledging a call
-- never waits for the worker's publishing transactions here. What applying each call did stays
-- here, written in the transaction that publishes it.
-- The old tables are renamed, not dropped: the ingest log store copies their rows (and the ids
-- already handed out) the first time it opens, then drops them.
CREATE TABLE api_outcomes (
    ingest_id INTEGER PRIMARY KEY,     -- ingest.sqlite's ingest_log.id
    state TEXT NOT NULL CHECK (state IN ('applied', 'failed')),
    applied_at TEXT NOT NULL,          -- ISO 8601, UTC
    outcome TEXT NOT NULL              -- JSON: what applying did, records refused and why
);
INSERT INTO api_outcomes
    SELECT id, state, coalesce(applied_at, received_at), coalesce(outcome, '{}')
    FROM ingest_log WHERE state <> 'pending';
ALTER TABLE ingest_log RENAME TO moved_ingest_log;
ALTER TABLE api_order_status RENAME TO moved_api_order_status;
