"""The two stores of an instance: operational (SQLite) and analytics (DuckDB), with migrations."""
