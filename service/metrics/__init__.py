"""CX metric use cases: compute, materialise, cache, check drift."""
