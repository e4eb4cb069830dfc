"""HTTP routers and schemas of the payment service."""
