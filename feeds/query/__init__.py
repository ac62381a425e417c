"""The watchlist language: syntax, evaluation with evidence, the compiled watch set, explanations, loading."""
