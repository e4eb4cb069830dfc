"""Pure domain logic of the intake service: no web, database or bus imports."""
