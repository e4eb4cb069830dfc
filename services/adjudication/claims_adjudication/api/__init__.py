"""HTTP routers and schemas of the adjudication service."""
