"""Use cases: each one a function taking the actor explicitly; the one place that commits."""
