"""Event consumers of the adjudication service and the mapping between contracts and domain."""
