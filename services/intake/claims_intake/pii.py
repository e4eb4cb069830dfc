"""Encryption of the member's ID number and bank account at rest, and their masked forms."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def mask(value: str, keep: int = 4) -> str:
    """All but the last ``keep`` characters replaced by ``*``."""
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


def derive_key(secret: str) -> bytes:
    """A Fernet key derived from a secret (HKDF-SHA256, fixed context)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"claims-intake-pii-v1").derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


class Vault:
    """Encrypts and decrypts the sensitive part of a claim."""

    def __init__(self, key: bytes | str) -> None:
        self._fernet = Fernet(key)

    def seal(self, value: dict[str, Any]) -> str:
        """The encrypted token of a JSON-able value."""
        return self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()

    def open(self, token: str | None) -> dict[str, Any]:
        """The value of a token (empty for none)."""
        if not token:
            return {}
        try:
            value = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise RuntimeError("the sensitive data cannot be decrypted with the configured key") from exc
        return value if isinstance(value, dict) else {}
