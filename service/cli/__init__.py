"""The `cxgraph` command: serve and the admin commands."""
