"""cxgraph's domain layer: settings, storage, ingestion, metrics and the app composition root."""
