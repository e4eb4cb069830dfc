"""``claims-admin expire-claims`` against a small real HTTP server standing in for intake."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from claims_platform.auth import Authenticator
from claims_platform.cli import app

SECRET = "expire-claims-test-secret-0123456789abcdef"


@pytest.fixture
def intake() -> Iterator[tuple[str, list[tuple[str, str, str]], list[int]]]:
    seen: list[tuple[str, str, str]] = []
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append((self.command, self.path, self.headers.get("Authorization", "")))
            if status[0] == 200:
                body = json.dumps({"expired": 3}).encode()
                ctype = "application/json"
            else:
                body = json.dumps({"title": "Forbidden", "status": 403, "detail": "needs admin"}).encode()
                ctype = "application/problem+json"
            self.send_response(status[0])
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen, status
    finally:
        server.shutdown()


def test_expire_claims_posts_the_job_with_an_admin_token(intake, monkeypatch):
    url, seen, _ = intake
    monkeypatch.setenv("CLAIMS_JWT_SECRET", SECRET)
    result = CliRunner().invoke(app, ["expire-claims", "--url", url])
    assert result.exit_code == 0, result.output
    assert "expired 3 claim(s)" in result.output
    [(method, path, auth)] = seen
    assert (method, path) == ("POST", "/v1/jobs/expire")
    principal = Authenticator(secret=SECRET).verify(auth.removeprefix("Bearer "))
    assert principal.roles == {"admin"}


def test_expire_claims_reports_a_refusal(intake, monkeypatch):
    url, _, status = intake
    status[0] = 403
    monkeypatch.setenv("CLAIMS_JWT_SECRET", SECRET)
    result = CliRunner().invoke(app, ["expire-claims", "--url", url])
    assert result.exit_code == 1
    assert "403" in result.output
