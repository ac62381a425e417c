"""Alerts as data and as messages: building them from articles, digests and notices, one renderer per channel."""
