"""Checks of partner records: pure validation helpers and their error codes."""
