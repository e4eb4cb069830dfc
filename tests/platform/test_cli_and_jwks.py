"""The development token command, and RS256 tokens verified against a JWKS endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from claims_platform.auth import Authenticator
from claims_platform.cli import app
from claims_platform.errors import ProblemError


def test_token_command_prints_a_token_the_services_accept(tmp_path, monkeypatch):
    monkeypatch.delenv("CLAIMS_JWT_SECRET", raising=False)
    result = CliRunner().invoke(
        app, ["token", "--role", "partner", "--provider-id", "H-001", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    secret = (tmp_path / "dev-jwt-secret").read_text().strip()
    principal = Authenticator(secret=secret).verify(result.output.strip())
    assert principal.roles == {"partner"}
    assert principal.provider_id == "H-001"


def test_token_command_refuses_an_unknown_role(tmp_path):
    result = CliRunner().invoke(app, ["token", "--role", "superuser", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "unknown roles" in result.output


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json", key
    finally:
        server.shutdown()


def test_rs256_token_from_jwks_is_accepted_and_forged_one_refused(jwks_server):
    url, key = jwks_server
    auth = Authenticator(secret=None, jwks_url=url)
    claims = {"sub": "portal-7", "roles": ["adjuster"], "exp": int(time.time()) + 60}
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert auth.verify(good).roles == {"adjuster"}
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(ProblemError) as err:
        auth.verify(forged)
    assert err.value.status == 401
