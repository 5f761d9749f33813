"""CX metrics as pure functions: cells, formulas, statistics, periods, query values."""
