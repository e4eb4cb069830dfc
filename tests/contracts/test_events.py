"""Event payloads: metadata, the registry, cross-field rules, and the round trip through the envelope."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from claims_contracts import (
    ALL_EVENTS,
    ALL_TOPICS,
    EVENT_TYPES,
    Adjustment,
    BankAccount,
    ClaimAdjudicated,
    ClaimDisputed,
    ClaimDocumentsRequested,
    ClaimExpired,
    ClaimLine,
    ClaimPended,
    ClaimReceived,
    ClaimWithdrawn,
    DecisionLine,
    Diagnosis,
    EnvelopeMismatch,
    EventEnvelope,
    EventPayload,
    FeedbackReceived,
    MemberContact,
    NotificationSent,
    OverpaymentRecorded,
    PaymentCompleted,
    PaymentEvent,
    PaymentFailed,
    PaymentReturned,
    PaymentScheduled,
    PaymentSent,
    ProviderRef,
    UnknownEventType,
    VerificationRequested,
    dlq_topic,
    parse_as,
    parse_payload,
    topic_of,
)
from claims_contracts.schemagen import schema_file

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLAIM = "C-2026-000001"
AT = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)
MEMBER = MemberContact(member_id="M-1001", name="张三", phone="+8613800000000", email="zhangsan@example.com")
PROVIDER = ProviderRef(provider_id="H-001", name="北京协和医院")


def claim_received(**changes: Any) -> ClaimReceived:
    """The claim of DOMAIN.md section 3, as intake publishes it."""
    data: dict[str, Any] = {
        "claim_id": CLAIM,
        "submitted_at": AT,
        "policy_number": "POL-2026-0001",
        "member": MEMBER,
        "provider": PROVIDER,
        "submitted_by_provider": False,
        "claim_type": "outpatient",
        "accident": False,
        "diagnoses": [Diagnosis(code="J18.9", primary=True)],
        "lines": [
            ClaimLine(
                line_no=1,
                service_date=date(2026, 3, 10),
                category="consultation",
                code="C-001",
                description="门诊诊查",
                quantity="1",
                unit_price="200.00",
                amount="200.00",
            ),
            ClaimLine(
                line_no=2,
                service_date=date(2026, 3, 10),
                category="examination",
                code="E-100",
                description="胸部CT",
                quantity="1",
                unit_price="600.00",
                amount="600.00",
            ),
            ClaimLine(
                line_no=3,
                service_date=date(2026, 3, 10),
                category="drugs",
                code="D-555",
                description="阿莫西林",
                quantity="3",
                unit_price="100.00",
                amount="300.00",
                other_insurance_paid="0.00",
            ),
        ],
        "currency": "CNY",
        "payee": "member",
        "bank_account": BankAccount(holder="张三", account_number="6222020200001234567", bank_code="ICBC"),
        "charged": "1100.00",
    }
    data.update(changes)
    return ClaimReceived.model_validate(data)


def claim_adjudicated(**changes: Any) -> ClaimAdjudicated:
    """The worked example of DOMAIN.md section 5."""
    deductible = "扣除年度免赔额"
    data: dict[str, Any] = {
        "claim_id": CLAIM,
        "decision_version": 1,
        "outcome": "approved",
        "plan_code": "STD-2026",
        "plan_version": 1,
        "policy_number": "POL-2026-0001",
        "member_id": "M-1001",
        "provider_id": "H-001",
        "payee": "member",
        "currency": "CNY",
        "charged": "1100.00",
        "allowed": "1100.00",
        "payable": "450.00",
        "member_responsibility": "650.00",
        "other_insurance": "0.00",
        "lines": [
            DecisionLine(
                line_no=1,
                category="consultation",
                charged="200.00",
                allowed="200.00",
                payable="0.00",
                adjustments=[
                    Adjustment(
                        reason="DEDUCTIBLE",
                        group="PR",
                        carc="1",
                        amount="200.00",
                        explanation_zh=deductible,
                        explanation_en="Annual deductible",
                    )
                ],
            ),
            DecisionLine(
                line_no=2,
                category="examination",
                charged="600.00",
                allowed="600.00",
                payable="240.00",
                adjustments=[
                    Adjustment(
                        reason="DEDUCTIBLE",
                        group="PR",
                        carc="1",
                        amount="300.00",
                        explanation_zh=deductible,
                        explanation_en="Annual deductible",
                    ),
                    Adjustment(
                        reason="COINSURANCE",
                        group="PR",
                        carc="2",
                        amount="60.00",
                        explanation_zh="自付比例",
                        explanation_en="Coinsurance",
                    ),
                ],
            ),
            DecisionLine(
                line_no=3,
                category="drugs",
                charged="300.00",
                allowed="300.00",
                payable="210.00",
                adjustments=[
                    Adjustment(
                        reason="COINSURANCE",
                        group="PR",
                        carc="2",
                        amount="90.00",
                        explanation_zh="自付比例",
                        explanation_en="Coinsurance",
                    )
                ],
            ),
        ],
        "decided_by": "system",
        "automatic": True,
        "decided_at": AT,
    }
    data.update(changes)
    return ClaimAdjudicated.model_validate(data)


PAYMENT = {
    "claim_id": CLAIM,
    "payment_id": "P-1",
    "decision_version": 1,
    "amount": "450.00",
    "currency": "CNY",
    "payee": "member",
}

SAMPLES: list[EventPayload] = [
    claim_received(),
    claim_received(
        claim_id="C-2",
        claim_type="inpatient",
        admission_date=date(2026, 3, 1),
        discharge_date=date(2026, 3, 5),
        payee="provider",
        bank_account=None,
        submitted_by_provider=True,
    ),
    ClaimDocumentsRequested(
        claim_id=CLAIM,
        claim_type="outpatient",
        missing_documents=["id_proof", "itemized_bill", "invoice", "medical_record"],
        member=MEMBER,
        provider=PROVIDER,
        deadline=date(2026, 4, 11),
    ),
    ClaimDisputed(
        claim_id=CLAIM,
        disputed_decision_version=1,
        reason="检查费应全额报销",
        disputed_by="M-1001",
        previous_deciders=["adjuster-7"],
    ),
    ClaimWithdrawn(claim_id=CLAIM, reason="submitted twice", withdrawn_by="M-1001"),
    ClaimExpired(
        claim_id=CLAIM,
        missing_documents=["invoice"],
        reason="documents not supplied within 30 days",
    ),
    ClaimPended(
        claim_id=CLAIM,
        review_id="R-1",
        reasons=["HIGH_AMOUNT"],
        currency="CNY",
        charged="60000.00",
        payable="41000.00",
    ),
    VerificationRequested(
        claim_id=CLAIM,
        review_id="R-1",
        provider_id="H-001",
        message="请确认CT检查记录",
        requested_by="adjuster-7",
    ),
    claim_adjudicated(),
    claim_adjudicated(
        outcome="denied",
        plan_code=None,
        plan_version=None,
        decision_version=2,
        allowed="0.00",
        payable="0.00",
        member_responsibility="1100.00",
        denial_reasons=["POLICY_NOT_FOUND"],
        lines=[DecisionLine(line_no=1, category="other", charged="1100.00", allowed="0.00", payable="0.00")],
        decided_by="adjuster-9",
        automatic=False,
        review_id="R-2",
    ),
    PaymentScheduled(**PAYMENT),
    PaymentSent(**PAYMENT, batch_id="B-20260312"),
    PaymentCompleted(**PAYMENT, settled_at=AT),
    PaymentFailed(**PAYMENT, reason="bank timeout", retryable=True),
    PaymentReturned(**PAYMENT, reason="account closed"),
    OverpaymentRecorded(claim_id=CLAIM, decision_version=2, amount="50.00", currency="CNY", payee="member"),
    NotificationSent(
        claim_id=CLAIM,
        notification_id="N-1",
        source_event_type="ClaimAdjudicated",
        source_event_id=uuid.uuid4(),
        channel="email",
        locale="zh-CN",
        recipient="z***@example.com",
    ),
    FeedbackReceived(claim_id=CLAIM, survey_id="S-1", score=5, comment="很快"),
    FeedbackReceived(claim_id=CLAIM, survey_id="S-2", score=1),
]


def _sample_id(sample: EventPayload) -> str:
    return sample.event_type


def test_every_event_has_a_sample() -> None:
    assert {type(sample) for sample in SAMPLES} == set(ALL_EVENTS)


@pytest.mark.parametrize("sample", SAMPLES, ids=_sample_id)
def test_round_trip_through_the_envelope(sample: EventPayload) -> None:
    claim_id = sample.model_dump()["claim_id"]
    envelope = EventEnvelope.wrap(sample, claim_id=claim_id, producer="test", correlation_id="corr-1")
    wire = envelope.model_dump_json()
    back = EventEnvelope.model_validate_json(wire)
    assert back == envelope
    parsed = parse_payload(back)
    assert type(parsed) is type(sample)
    assert parsed == sample
    assert parse_as(back, type(sample)) == sample


@pytest.mark.parametrize("sample", SAMPLES, ids=_sample_id)
def test_the_wire_form_matches_the_checked_in_schema_fields(sample: EventPayload) -> None:
    schema = json.loads((SHARED / schema_file(type(sample))).read_text(encoding="utf-8"))
    wire = json.loads(sample.model_dump_json())
    assert set(wire) == set(schema["properties"])
    assert set(schema.get("required", [])) <= set(wire)


def test_money_and_quantities_travel_as_strings() -> None:
    wire = json.loads(claim_received().model_dump_json())
    assert wire["charged"] == "1100.00"
    assert wire["lines"][2] == {
        "line_no": 3,
        "service_date": "2026-03-10",
        "category": "drugs",
        "code": "D-555",
        "description": "阿莫西林",
        "quantity": "3",
        "unit_price": "100.00",
        "amount": "300.00",
        "other_insurance_paid": "0.00",
    }
    assert wire["submitted_at"] == "2026-03-12T09:30:00Z"
    assert json.loads(claim_adjudicated().model_dump_json())["payable"] == "450.00"


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda cls: cls.event_type)
def test_event_metadata(cls: type[EventPayload]) -> None:
    assert cls.event_type == cls.__name__
    assert cls.event_version == 1
    assert cls.topic in ALL_TOPICS
    assert topic_of(cls) == cls.topic
    assert EVENT_TYPES[(cls.event_type, cls.event_version)] is cls
    assert cls.model_config.get("frozen") is True


def test_registry_covers_every_event_once() -> None:
    assert len(EVENT_TYPES) == len(ALL_EVENTS) == 16
    assert topic_of(claim_received()) == "claims.intake.v1"
    assert topic_of(PaymentScheduled) == "claims.payment.v1"
    assert topic_of(FeedbackReceived) == "claims.notification.v1"
    assert topic_of(ClaimAdjudicated) == "claims.adjudication.v1"
    assert dlq_topic("claims.intake.v1") == "claims.intake.v1.dlq"


def test_unknown_event_types_are_a_clear_error() -> None:
    envelope = EventEnvelope.wrap(claim_received(), claim_id=CLAIM, producer="test")
    for changes in ({"event_type": "ClaimTeleported"}, {"event_version": 2}):
        unknown = envelope.model_copy(update=changes)
        with pytest.raises(UnknownEventType, match="unknown event type") as caught:
            parse_payload(unknown)
        assert isinstance(caught.value, ValueError)
    with pytest.raises(UnknownEventType):
        topic_of(PaymentEvent)

    class Unregistered(EventPayload):
        event_type: ClassVar[str] = "Unregistered"
        topic: ClassVar[str] = "elsewhere"

    with pytest.raises(UnknownEventType):
        topic_of(Unregistered)


def test_envelope_and_payload_must_agree() -> None:
    sample = claim_received()
    with pytest.raises(EnvelopeMismatch, match="claim_id"):
        parse_payload(EventEnvelope.wrap(sample, claim_id="C-other", producer="test"))
    with pytest.raises(EnvelopeMismatch, match="expected ClaimAdjudicated"):
        parse_as(EventEnvelope.wrap(sample, claim_id=CLAIM, producer="test"), ClaimAdjudicated)


def test_consumers_ignore_unknown_fields() -> None:
    envelope = EventEnvelope.wrap(claim_received(), claim_id=CLAIM, producer="test")
    newer = envelope.model_copy(update={"payload": {**envelope.payload, "added_in_a_later_release": 1}})
    assert parse_payload(newer) == claim_received()


def test_payloads_are_immutable() -> None:
    with pytest.raises(ValidationError):
        claim_received().charged = Decimal("1.00")  # type: ignore[misc]


def test_the_id_number_never_enters_the_event() -> None:
    member = {
        "member_id": "M-1001",
        "name": "张三",
        "id_type": "resident_id",
        "id_number": "110101199003071234",
    }
    event = claim_received(member=member)
    assert "110101199003071234" not in event.model_dump_json()
    assert event.member.locale == "zh-CN"


def test_bank_account_number_is_not_in_repr() -> None:
    assert "6222020200001234567" not in repr(claim_received())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bank_account": None}, "bank_account is required when payee is member"),
        ({"diagnoses": [{"code": "J18.9"}]}, "exactly one diagnosis must be primary"),
        (
            {"diagnoses": [{"code": "J18.9", "primary": True}, {"code": "K02", "primary": True}]},
            "exactly one",
        ),
        ({"lines": [claim_received().lines[0], claim_received().lines[0]]}, "line numbers must be unique"),
        ({"lines": []}, "at least 1 item"),
        ({"currency": "cn1"}, "currency"),
    ],
)
def test_claim_received_rules(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        claim_received(**changes)


def test_a_denial_carries_its_reasons() -> None:
    with pytest.raises(ValidationError, match="a denial carries its reasons"):
        claim_adjudicated(outcome="denied")


@pytest.mark.parametrize("score", [0, 6])
def test_feedback_score_is_one_to_five(score: int) -> None:
    with pytest.raises(ValidationError):
        FeedbackReceived(claim_id=CLAIM, survey_id="S-1", score=score)


def test_payment_amounts_are_positive() -> None:
    with pytest.raises(ValidationError):
        PaymentScheduled(**{**PAYMENT, "amount": "0.00"})
