"""The archive: every article, story, match and alert in a database (SQLite by default, PostgreSQL by URL)."""
