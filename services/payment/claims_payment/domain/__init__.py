"""Pure domain logic of the payment service: no web, database or bus imports."""
