"""The console: an HTTP API and server-rendered pages over the archive and Redis (`marsad web`)."""
