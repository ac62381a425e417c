"""Near-duplicate and story detection: canonical URLs, text signatures, the story rule and its store protocol."""
