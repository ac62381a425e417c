"""Measuring against what people read: gold labels (entities, topics) and dry runs over archives."""
