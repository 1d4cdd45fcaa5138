"""One screen per file; each owns its phase logic and its workers."""
