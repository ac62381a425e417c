"""Getting articles in: safe HTTP, the network guard, page extraction, poll scheduling, OPML, source kinds."""
