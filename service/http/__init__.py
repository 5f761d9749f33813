"""The HTTP edge: the ASGI app, middlewares, the GraphQL and NDJSON routes, probes, /metrics."""
