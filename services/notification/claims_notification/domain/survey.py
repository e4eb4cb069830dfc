"""Survey tokens: signed (HS256), expiring, bound to one survey of one claim."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

__all__ = ["SurveyToken", "TokenExpired", "TokenInvalid", "sign_survey_token", "verify_survey_token"]

_AUDIENCE = "claims-survey"
_ALGORITHM = "HS256"


class TokenInvalid(Exception):
    """The token was not made here, was altered, or is not a survey token."""


class TokenExpired(TokenInvalid):
    """The token was made here but is past its expiry."""


@dataclass(frozen=True)
class SurveyToken:
    """What a survey token vouches for."""

    survey_id: str
    claim_id: str
    expires_at: datetime


def sign_survey_token(secret: str, survey_id: str, claim_id: str, issued_at: datetime, ttl: timedelta) -> str:
    """A token that answers ``survey_id`` of ``claim_id`` until ``issued_at + ttl``."""
    claims = {
        "aud": _AUDIENCE,
        "sub": survey_id,
        "claim_id": claim_id,
        "iat": int(issued_at.timestamp()),
        "exp": int((issued_at + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_survey_token(secret: str, token: str, now: datetime) -> SurveyToken:
    """The survey a token vouches for; ``TokenExpired`` or ``TokenInvalid`` otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["sub", "exp", "aud"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenInvalid(type(exc).__name__) from None
    survey_id, claim_id, exp = claims.get("sub"), claims.get("claim_id"), claims.get("exp")
    if not isinstance(survey_id, str) or not isinstance(claim_id, str) or not isinstance(exp, int):
        raise TokenInvalid("missing claims")
    expires_at = datetime.fromtimestamp(exp, tz=now.tzinfo)
    if now >= expires_at:
        raise TokenExpired("expired")
    return SurveyToken(survey_id=survey_id, claim_id=claim_id, expires_at=expires_at)
