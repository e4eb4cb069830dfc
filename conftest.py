"""Repository-wide pytest setup: the platform's fixtures for real PostgreSQL and Kafka."""

pytest_plugins = ["claims_platform.testing"]
