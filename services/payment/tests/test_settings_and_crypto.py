"""Settings fail fast without an account key outside development; account numbers encrypted at rest."""

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from claims_payment.config import PaymentSettings
from claims_payment.crypto import AccountCipher, development_key

SECRET = "x" * 40


def test_outside_development_an_account_key_is_required(monkeypatch):
    monkeypatch.delenv("CLAIMS_PAYMENT_ACCOUNT_KEY", raising=False)
    # CLAIMS_ENV, not environment=: the kit's field has a validation alias, so the keyword is ignored.
    monkeypatch.setenv("CLAIMS_ENV", "production")
    with pytest.raises(ValidationError, match="production mode needs: CLAIMS_PAYMENT_ACCOUNT_KEY"):
        PaymentSettings(database_url="postgresql+asyncpg://x/y", jwt_secret=SECRET, kafka_bootstrap_servers="k:9092")


def test_a_malformed_key_is_refused():
    with pytest.raises(ValidationError, match="not a Fernet key"):
        PaymentSettings(environment="test", database_url="sqlite+aiosqlite://", jwt_secret=SECRET, account_key="short")


def test_key_read_from_the_service_variable(monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("CLAIMS_PAYMENT_ACCOUNT_KEY", key)
    settings = PaymentSettings(environment="test", database_url="sqlite+aiosqlite://", jwt_secret=SECRET)
    assert settings.account_key is not None
    assert settings.account_key.get_secret_value() == key
    assert key not in repr(settings)


def test_ciphertext_hides_the_number_and_round_trips(tmp_path):
    cipher = AccountCipher(development_key(tmp_path))
    assert development_key(tmp_path) == development_key(tmp_path)  # generated once, then reused
    token = cipher.encrypt("6222020200001234567")
    assert "1234567" not in token
    assert cipher.decrypt(token) == "6222020200001234567"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        AccountCipher(Fernet.generate_key().decode()).decrypt(token)
