"""The platform kit: what every service needs and nothing domain-specific."""
