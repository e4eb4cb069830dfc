"""Event consumers of the notification service and the mapping between contracts and domain."""
