"""Real servers the tests start for themselves: PostgreSQL and a headless Chromium."""
