"""Who is asking: credentials (API keys, JWTs) turned into a principal with a tenant and scopes."""
