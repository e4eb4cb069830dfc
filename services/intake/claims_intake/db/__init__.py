"""Persistence of the intake service: models, repositories, migrations."""
