"""Event consumers of the intake service and the mapping between contracts and domain."""
