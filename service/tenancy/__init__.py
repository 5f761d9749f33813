"""Per-tenant state the services share: settings over the environment's, data versions."""
