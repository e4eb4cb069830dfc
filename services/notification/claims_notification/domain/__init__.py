"""Pure logic of the notification service: which messages an event yields, locales, survey tokens, retries."""
