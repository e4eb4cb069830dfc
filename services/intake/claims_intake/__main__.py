"""``python -m claims_intake [serve|migrate]``."""

from claims_intake.app import MIGRATIONS, create_app
from claims_intake.config import IntakeSettings
from claims_platform.runner import run_service


def main() -> None:
    """Run the intake service."""
    run_service(IntakeSettings, create_app, MIGRATIONS)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
