-- Ingest log store, version 2: each acknowledged status remembers the call that set it, so that
-- the worker's housekeeping can delete it once that call is applied. From then on the serving
-- copy (`serving_orders`) holds the status, and a later change from the daily files is seen
-- there instead of a stale status the API acknowledged long ago. Without it the table kept a
-- row for every order ever sent through the API.
ALTER TABLE api_order_status ADD COLUMN ingest_id INTEGER NOT NULL DEFAULT 0;
-- The calls that set the rows already here are not known: they are counted as the last call
-- logged, so that none is deleted before every call logged so far is applied.
UPDATE api_order_status SET ingest_id = (SELECT coalesce(max(id), 0) FROM ingest_log);
