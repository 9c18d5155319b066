-- A copy of the analytics store's import_days (day -> loaded / skipped), rewritten after every
-- import and skip: `clientela status` reads it while another process (`clientela serve`) owns
-- the analytics store.
CREATE TABLE import_days_copy (
    day TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
