"""``python -m claims_adjudication [serve|migrate]``."""

from claims_adjudication.app import MIGRATIONS, create_app
from claims_adjudication.config import AdjudicationSettings
from claims_platform.runner import run_service


def main() -> None:
    """Run the adjudication service."""
    run_service(AdjudicationSettings, create_app, MIGRATIONS)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
