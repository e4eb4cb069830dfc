"""Settings fail fast outside development; logs are JSON with context and never show ID or account numbers."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

from claims_intake.config import IntakeSettings
from claims_payment.config import PaymentSettings
from claims_platform.context import claim_id_var, correlation_id_var
from claims_platform.logging import configure_logging, get_logger, mask_text


def test_production_without_secrets_fails_fast(monkeypatch):
    for var in ("CLAIMS_JWT_SECRET", "CLAIMS_INTAKE_DATABASE_URL", "CLAIMS_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLAIMS_ENV", "production")
    with pytest.raises(ValidationError) as err:
        IntakeSettings()
    text = str(err.value)
    assert "CLAIMS_JWT_SECRET" in text
    assert "CLAIMS_INTAKE_DATABASE_URL" in text
    assert "KAFKA" in text


def test_short_secret_is_refused():
    with pytest.raises(ValidationError, match="at least 32"):
        IntakeSettings(jwt_secret="short")


def test_service_variable_wins_over_common_one(monkeypatch):
    monkeypatch.setenv("CLAIMS_PORT", "9999")
    monkeypatch.setenv("CLAIMS_PAYMENT_PORT", "18003")
    assert PaymentSettings().listen_port == 18003
    assert IntakeSettings().listen_port == 9999
    monkeypatch.delenv("CLAIMS_PORT")
    assert IntakeSettings().listen_port == 8001


def test_development_secret_is_generated_once(tmp_path):
    first = IntakeSettings(data_dir=tmp_path).resolved_jwt_secret()
    second = PaymentSettings(data_dir=tmp_path).resolved_jwt_secret()
    assert first == second
    assert first is not None
    assert len(first) >= 32
    assert oct((tmp_path / "dev-jwt-secret").stat().st_mode)[-3:] == "600"


def test_mask_text_hides_id_and_account_numbers():
    masked = mask_text("member 110101199003071234 paid to 6222020200001234567 for claim C-2026-0001")
    assert "110101199003071234" not in masked
    assert "6222020200001234567" not in masked
    assert masked.endswith("for claim C-2026-0001")
    assert "1234" in masked  # the last four stay, so staff can still tell accounts apart


def test_json_log_line_carries_context_and_masks(capsys):
    configure_logging("json", "INFO")
    tokens = correlation_id_var.set("corr-42"), claim_id_var.set("C-7")
    try:
        get_logger("t").info("bank account saved", account_number="6222020200001234567", note="id 110101199003071234")
        logging.getLogger("plain.stdlib").warning("stdlib says 6222020200001234567")
    finally:
        correlation_id_var.reset(tokens[0])
        claim_id_var.reset(tokens[1])
    lines = [json.loads(x) for x in capsys.readouterr().err.strip().splitlines()]
    assert lines[0]["correlation_id"] == "corr-42"
    assert lines[0]["claim_id"] == "C-7"
    assert lines[0]["account_number"] == "****4567"
    out = json.dumps(lines)
    assert "6222020200001234567" not in out
    assert "110101199003071234" not in out
