-- Analytics store, version 5: one integer key per order, carried by its lines, its categories and
-- its superseded versions. The import gives an order its key when the order is first stored and
-- keeps it when the order is re-sent, so lines and categories find their order, and indicator runs
-- join the four tables, on one integer instead of two strings; keys grow with arrival, so a day's
-- merge reads only the row groups of the orders it touches.
-- A store made before this version numbers its orders in storage order. (The columns stay
-- nullable: DuckDB cannot add the constraint in the transaction that fills them.)

ALTER TABLE orders ADD COLUMN order_key BIGINT;
UPDATE orders SET order_key = rowid + 1;

ALTER TABLE order_versions ADD COLUMN order_key BIGINT;
UPDATE order_versions SET order_key = o.order_key FROM orders o
WHERE o.store_code = order_versions.store_code AND o.order_number = order_versions.order_number;

ALTER TABLE order_lines ADD COLUMN order_key BIGINT;
UPDATE order_lines SET order_key = o.order_key FROM orders o
WHERE o.store_code = order_lines.store_code AND o.order_number = order_lines.order_number;

ALTER TABLE order_line_categories ADD COLUMN order_key BIGINT;
UPDATE order_line_categories SET order_key = o.order_key FROM orders o
WHERE o.store_code = order_line_categories.store_code
  AND o.order_number = order_line_categories.order_number;
