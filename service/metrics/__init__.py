"""CX metrics: formulas, statistics and the query planner."""
