"""Webhooks in pure terms: signatures, backoff, URL policy, events and thresholds."""
