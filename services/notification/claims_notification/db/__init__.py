"""Persistence of the notification service: models, repositories, migrations."""
