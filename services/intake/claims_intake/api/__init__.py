"""HTTP routers and schemas of the intake service."""
