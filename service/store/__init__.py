"""MongoDB access: the client, indexes, and one repository module per collection."""
