"""RFC 9457 problem details for every error, and the guards against oversized or absurd bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claims_platform.logging import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """An error that becomes a problem+json answer."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str | None = None,
        errors: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ or f"/problems/{title.lower().replace(' ', '-')}"
        self.errors = list(errors)
        self.headers = headers


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str | None = None,
    instance: str | None = None,
    errors: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {"type": type_ or "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or ".".join(str(p) for p in loc)


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic errors as ``{field, message, type}`` entries, without echoing the input."""
    return [
        {"field": _field(e.get("loc", ())), "message": e.get("msg", "invalid"), "type": e.get("type")} for e in errors
    ]


async def _problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors, headers=exc.headers)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errs = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errs):
        return problem_response(
            400,
            "Malformed JSON",
            "The request body is not valid JSON.",
            type_="/problems/malformed-json",
            errors=validation_errors(errs),
        )
    return problem_response(
        422,
        "Validation failed",
        "One or more fields are invalid.",
        type_="/problems/validation",
        errors=validation_errors(errs),
    )


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        413: "Payload too large",
        415: "Unsupported media type",
    }
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(
        exc.status_code, titles.get(exc.status_code, "Error"), detail, headers=getattr(exc, "headers", None)
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    from claims_platform.inbox import is_transient

    if is_transient(exc):
        # An outage (database unreachable, connection lost): tell the client to come back, not that we broke.
        log.warning("request failed on an outage", path=request.url.path, error_type=type(exc).__name__)
        return problem_response(
            503,
            "Service unavailable",
            "A backing service is unavailable; retry the same request (with the same Idempotency-Key) shortly.",
            headers={"Retry-After": "2"},
        )
    log.error("unhandled error", path=request.url.path, error_type=type(exc).__name__)
    return problem_response(500, "Internal error", "The request could not be completed.")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error a problem+json answer."""
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


class _TooLarge(Exception):
    pass


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether JSON nests deeper than ``limit``; strings are skipped, and the scan runs in C but for brackets."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b"", body)):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class BodyGuardMiddleware:
    """Refuses bodies above a size (413) and JSON nested absurdly deep (400) before any parsing."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reply(scope, send, 413, "Payload too large", f"The body exceeds {self.max_bytes} bytes.")
            return
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        is_json = ctype.endswith(b"json")
        received = 0
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._reply(scope, send, 413, "Payload too large", f"The body exceeds {self.max_bytes} bytes.")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if is_json and json_depth_exceeds(body, self.max_depth):
            await self._reply(
                scope, send, 400, "Malformed JSON", f"The JSON body nests deeper than {self.max_depth} levels."
            )
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _reply(scope: Scope, send: Send, status: int, title: str, detail: str) -> None:
        body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
