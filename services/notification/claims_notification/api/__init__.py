"""HTTP routers and schemas of the notification service."""
