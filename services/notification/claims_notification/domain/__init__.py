"""Pure domain logic of the notification service: no web, database or bus imports."""
