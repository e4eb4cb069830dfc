"""Bearer-token authentication (JWT: HS256 with a shared secret, or RS256 from a JWKS) and roles."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from claims_platform.errors import ProblemError

ROLES = frozenset({"admin", "adjuster", "supervisor", "finance", "auditor", "partner", "member"})
INTERNAL_ROLES = frozenset({"admin", "adjuster", "supervisor", "finance", "auditor"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: subject, roles and, for partners and members, whose data they may see."""

    sub: str
    roles: frozenset[str] = field(default_factory=frozenset)
    provider_id: str | None = None
    member_id: str | None = None

    def has(self, *roles: str) -> bool:
        """Whether the principal holds any of ``roles``."""
        return bool(self.roles.intersection(roles))

    @property
    def is_internal(self) -> bool:
        """Staff of the insurer (not a partner or member)."""
        return bool(self.roles & INTERNAL_ROLES)


class Authenticator:
    """Verifies bearer tokens."""

    def __init__(self, *, secret: str | None, jwks_url: str | None = None, issuer: str | None = None) -> None:
        if secret is None and jwks_url is None:
            raise ValueError("a JWT secret or a JWKS URL is needed")
        self.secret = secret
        self.issuer = issuer
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; ProblemError 401 otherwise."""
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256"]
            else:
                key, algorithms = self.secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self.issuer,
                options={"require": ["sub", "exp"], "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"Invalid token: {type(exc).__name__}.") from None
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise _unauthorized("Invalid token: roles must be a list of strings.")
        principal = Principal(
            sub=str(claims["sub"]),
            roles=frozenset(r for r in roles if r in ROLES),
            provider_id=claims.get("provider_id"),
            member_id=claims.get("member_id"),
        )
        if "partner" in principal.roles and not principal.provider_id:
            raise _unauthorized("Invalid token: a partner token needs provider_id.")
        if "member" in principal.roles and not principal.member_id:
            raise _unauthorized("Invalid token: a member token needs member_id.")
        return principal


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def mint_token(
    secret: str,
    sub: str,
    roles: list[str],
    *,
    provider_id: str | None = None,
    member_id: str | None = None,
    ttl_seconds: int = 8 * 3600,
) -> str:
    """A signed HS256 development token."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "roles": roles, "iat": now, "exp": now + ttl_seconds}
    if provider_id:
        claims["provider_id"] = provider_id
    if member_id:
        claims["member_id"] = member_id
    return jwt.encode(claims, secret, algorithm="HS256")


_bearer = HTTPBearer(auto_error=False, description="A JWT: `Authorization: Bearer <token>`.")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller; 401 without a valid bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("A bearer token is required.")
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that lets through only principals holding one of ``roles`` (403 otherwise)."""

    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(*roles):
            raise ProblemError(403, "Forbidden", f"This needs one of the roles: {', '.join(sorted(roles))}.")
        return principal

    return _check
