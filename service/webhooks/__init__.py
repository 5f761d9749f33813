"""Webhooks: signed, retried, recorded deliveries of tenant events (docs/adr/0022)."""
