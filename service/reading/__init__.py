"""Read-side use cases: records and journeys for the frontend queries."""
