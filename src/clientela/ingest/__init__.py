"""Daily files in: naming, detection, validation, batching by business day, loading."""
