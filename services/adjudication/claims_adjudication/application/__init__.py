"""Use cases of the adjudication service: they work through repositories and the unit of work, never commit."""
