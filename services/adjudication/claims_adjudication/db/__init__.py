"""Persistence of the adjudication service: models, repositories, migrations."""
