"""Running the daemons: the worker watchdog, `marsad up`'s supervisor, the embedded Redis, the metrics endpoint."""
