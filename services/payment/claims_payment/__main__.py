"""``python -m claims_payment [serve|migrate]``."""

from claims_payment.app import MIGRATIONS, create_app
from claims_payment.config import PaymentSettings
from claims_platform.runner import run_service


def main() -> None:
    """Run the payment service."""
    run_service(PaymentSettings, create_app, MIGRATIONS)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
