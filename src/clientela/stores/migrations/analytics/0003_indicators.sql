-- Analytics store, version 3: what indicator runs need besides the data.

-- Superseded versions of re-sent orders (a status change, a corrected amount), each with the
-- business day of the batch that replaced it, so a run as of a past day sees the order as it was
-- known on that day. Written by the import when a re-sent order replaces the stored row.
CREATE TABLE order_versions AS
SELECT *, CAST(NULL AS DATE) AS superseded_on FROM orders LIMIT 0;

-- Every indicator run: its as-of date, its timing, and how many profiles changed segment.
CREATE TABLE indicator_runs (
    run_id BIGINT NOT NULL,
    as_of DATE NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    profiles BIGINT NOT NULL,
    segment_changes BIGINT NOT NULL    -- profiles whose RFM_Segment differs from the last run's
);

-- RFM cut points of every run: for a window ('30' ... '360', 'total'), a dimension (R, F, M) and
-- a score 2-5, the least good value reaching that score (for R the most days). The realtime path
-- scores one profile against the last run's points instead of re-ranking the instance.
CREATE TABLE rfm_cut_points (
    run_id BIGINT NOT NULL,
    window_name VARCHAR NOT NULL,
    dimension VARCHAR NOT NULL,
    score INTEGER NOT NULL,
    threshold DECIMAL(18, 2) NOT NULL
);
