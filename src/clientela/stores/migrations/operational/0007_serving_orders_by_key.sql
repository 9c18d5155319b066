-- Operational store, version 7: the serving copy of orders is keyed by the analytics store's
-- order_key, and its documents (a few kilobytes each) have a table of their own. A rebuild of
-- 3M orders took 20 minutes, most of them inserting whole documents into a WITHOUT ROWID table
-- ordered by store and number, and its indexes; now both tables are appended to in key order and
-- the indexes are built over the narrow table alone.
DROP TABLE serving_orders;
CREATE TABLE serving_orders (
    order_key INTEGER PRIMARY KEY,     -- orders.order_key of the analytics store
    store_code TEXT NOT NULL,
    order_number TEXT NOT NULL,
    scope TEXT NOT NULL,               -- StoreCode when customer ids are store-scoped, else ''
    user_id TEXT NOT NULL,
    order_ts TEXT NOT NULL,            -- ISO 8601, UTC
    order_date TEXT NOT NULL,          -- YYYY-MM-DD, the instance's local date
    status TEXT NOT NULL
);
CREATE UNIQUE INDEX serving_orders_number ON serving_orders (store_code, order_number);
CREATE INDEX serving_orders_user ON serving_orders (scope, user_id, order_ts);
CREATE INDEX serving_orders_date ON serving_orders (order_date, store_code, order_number);
CREATE TABLE serving_order_documents (
    order_key INTEGER PRIMARY KEY,
    document TEXT NOT NULL
);
-- The serving copy is derived: the API worker rebuilds it at its next start.
DELETE FROM serving_state;
