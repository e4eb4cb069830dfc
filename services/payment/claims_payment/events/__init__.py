"""Event consumers of the payment service and the mapping between contracts and domain."""
