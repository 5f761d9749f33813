"""Ingestion: validation of partner records and idempotent bulk writes."""
