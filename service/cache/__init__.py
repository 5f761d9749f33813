"""The metric cache (aiocache, memory or Redis) and its JSON codec."""
