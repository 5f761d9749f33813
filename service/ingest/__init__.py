"""Ingestion use cases: validate partner records, write them idempotently, keep rollups honest."""
