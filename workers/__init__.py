"""The edges: configuration, the Celery app and tasks, Redis stores, alert delivery, daemons and the CLI."""
