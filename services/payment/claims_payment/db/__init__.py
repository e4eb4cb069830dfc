"""Persistence of the payment service: models, repositories, migrations."""
