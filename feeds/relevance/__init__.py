"""Per-watch learned relevance: labelled examples, features, a logistic model, training and query suggestions."""
