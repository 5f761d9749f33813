"""Live metric subscriptions over WebSocket (README "Live metrics", docs/adr/0021)."""
