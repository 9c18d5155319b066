-- Analytics store, version 1: the four daily files as columnar tables, and the import ledger.
-- Every data row keeps where it came from (batch day, file, line) and a hash of its content,
-- so an identical re-send is recognised as unchanged.

CREATE TABLE customers (
    scope_store VARCHAR NOT NULL,      -- StoreCode when customer ids are store-scoped, else ''
    user_id VARCHAR NOT NULL,
    store_code VARCHAR,
    email VARCHAR,
    first_name VARCHAR,
    last_name VARCHAR,
    city VARCHAR,
    birth_date DATE,
    phone VARCHAR,
    gender VARCHAR,
    attributes MAP(VARCHAR, VARCHAR),  -- custom attributes by name
    row_hash UBIGINT NOT NULL,
    batch_day DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE orders (
    store_code VARCHAR NOT NULL,
    order_number VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,
    order_ts TIMESTAMPTZ NOT NULL,     -- the instant, UTC
    order_date DATE NOT NULL,          -- the local business date in the instance's time zone
    total_items DECIMAL(7, 2) NOT NULL,
    total_products DECIMAL(7, 2) NOT NULL,
    total_amount DECIMAL(12, 2) NOT NULL,
    items_amount DECIMAL(12, 2) NOT NULL,
    discounts_amount DECIMAL(12, 2) NOT NULL,
    shipping_amount DECIMAL(12, 2) NOT NULL,
    tax_amount DECIMAL(12, 2),
    promo_codes VARCHAR[],
    pre_shipping_amount DECIMAL(12, 2),
    delivery_type VARCHAR,
    delivery_sub_type VARCHAR,
    delivery_company VARCHAR,
    payment_method VARCHAR[],
    payment_method_detail VARCHAR[],
    payment_method_entity VARCHAR[],
    payment_terms VARCHAR,
    status VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    extra MAP(VARCHAR, VARCHAR),       -- columns the schema does not know, kept as sent
    row_hash UBIGINT NOT NULL,
    batch_day DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE order_lines (
    store_code VARCHAR NOT NULL,
    order_number VARCHAR NOT NULL,
    line_number INTEGER NOT NULL,
    quantity DECIMAL(7, 2) NOT NULL,
    item_code VARCHAR NOT NULL,
    item_name VARCHAR,
    brand VARCHAR,
    description VARCHAR,
    price DECIMAL(12, 2) NOT NULL,
    list_price DECIMAL(12, 2),
    selling_price DECIMAL(12, 2),
    image_url VARCHAR,
    detail_url VARCHAR,
    seller VARCHAR,
    parent_item_code VARCHAR,
    extra MAP(VARCHAR, VARCHAR),
    row_hash UBIGINT NOT NULL,
    batch_day DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE order_line_categories (
    store_code VARCHAR NOT NULL,
    order_number VARCHAR NOT NULL,
    line_number INTEGER NOT NULL,
    category VARCHAR NOT NULL,
    extra MAP(VARCHAR, VARCHAR),
    row_hash UBIGINT NOT NULL,
    batch_day DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

-- Business days: loaded, or skipped by an operator. Written in the batch's own transaction.
CREATE TABLE import_days (
    day DATE PRIMARY KEY,
    state VARCHAR NOT NULL,            -- 'loaded' or 'skipped'
    recorded_at TIMESTAMPTZ NOT NULL,
    note VARCHAR
);

-- Every file processed, by checksum, so the same file arriving twice is recognised.
CREATE TABLE import_files (
    checksum VARCHAR NOT NULL,         -- SHA-256 of the file as delivered
    file_name VARCHAR NOT NULL,
    kind VARCHAR,                      -- customers, orders, order_lines, order_line_categories
    day DATE,
    bytes BIGINT NOT NULL,
    outcome VARCHAR NOT NULL,          -- loaded, duplicate, refused
    imported_at TIMESTAMPTZ NOT NULL,
    report JSON NOT NULL
);

-- Rows refused by validation: file, line, column, reason and the raw line.
CREATE TABLE import_rejects (
    checksum VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    line BIGINT,
    column_name VARCHAR,
    reason VARCHAR NOT NULL,
    raw VARCHAR
);

-- The upsert log: each replaced row, with where the old and the new version came from.
CREATE TABLE replaced_rows (
    table_name VARCHAR NOT NULL,
    row_key VARCHAR NOT NULL,
    batch_day DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    previous_batch_day DATE NOT NULL,
    previous_file VARCHAR NOT NULL,
    previous_line BIGINT NOT NULL,
    replaced_at TIMESTAMPTZ NOT NULL
);
