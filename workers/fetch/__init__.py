"""Fetching at the edge: per-host politeness and robots.txt, shared by all workers through Redis."""
