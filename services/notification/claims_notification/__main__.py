"""``python -m claims_notification [serve|migrate]``."""

from claims_notification.app import MIGRATIONS, create_app
from claims_notification.config import NotificationSettings
from claims_platform.runner import run_service


def main() -> None:
    """Run the notification service."""
    run_service(NotificationSettings, create_app, MIGRATIONS)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
