"""The user's configuration: environment expansion and durations, every pydantic model, the timing limits
whose relations are checked at import, and loading with `file: field: message` errors."""
