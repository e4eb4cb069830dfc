"""Bank account numbers encrypted at rest (Fernet: AES-128-CBC with HMAC-SHA256)."""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["AccountCipher", "development_key", "validate_key"]


def validate_key(key: str) -> None:
    """ValueError unless ``key`` is a Fernet key (32 url-safe base64-encoded bytes)."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise ValueError("CLAIMS_PAYMENT_ACCOUNT_KEY is not a Fernet key (32 url-safe base64 bytes)") from None


def development_key(data_dir: Path) -> str:
    """Read, or create on first use, the development account key under ``data_dir``."""
    path = data_dir / "dev-payment-account-key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    tmp.write_text(Fernet.generate_key().decode())
    tmp.chmod(0o600)
    try:
        tmp.rename(path) if not path.exists() else tmp.unlink()
    except FileExistsError:  # pragma: no cover - another process created it first
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


class AccountCipher:
    """Encrypts and decrypts account numbers; the clear text exists only in memory, on the way to the bank."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def encrypt(self, number: str) -> str:
        """The ciphertext to store."""
        return self._fernet.encrypt(number.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The account number; ValueError when the token was not made with this key."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("an account number cannot be decrypted with the configured key") from None
