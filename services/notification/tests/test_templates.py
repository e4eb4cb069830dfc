"""Every message kind renders on every channel in both locales, with amounts, dates and codes for the reader."""

from __future__ import annotations

from typing import Any

import pytest

from claims_notification.domain.model import SUPPORTED_LOCALES, Channel, Kind
from claims_notification.rendering import TEMPLATES, Renderer, template_name

LINES = [
    {
        "line_no": 2,
        "category": "examination",
        "charged": "600.00",
        "allowed": "600.00",
        "payable": "240.00",
        "explanation_zh": "胸部CT费用600元扣除免赔额300元后按80%赔付240元。",
        "explanation_en": "Chest CT 600.00: 300.00 to the deductible, 80% of the rest paid: 240.00.",
        "adjustments": [
            {
                "reason": "DEDUCTIBLE",
                "group": "PR",
                "carc": "1",
                "amount": "300.00",
                "explanation_zh": "计入年度免赔额",
                "explanation_en": "Applied to the deductible",
            },
            {
                "reason": "COINSURANCE",
                "group": "PR",
                "carc": "2",
                "amount": "60.00",
                "explanation_zh": "个人自付20%",
                "explanation_en": "Your 20% coinsurance share",
            },
        ],
    }
]

SAMPLES: dict[Kind, dict[str, Any]] = {
    Kind.DOCUMENTS_REQUESTED: {
        "claim_type": "inpatient",
        "missing_documents": ["id_proof", "discharge_summary"],
        "deadline": "2026-04-10",
    },
    Kind.CLAIM_RECEIVED: {
        "claim_type": "outpatient",
        "charged": "1100.00",
        "currency": "CNY",
        "submitted_at": "2026-03-11T02:30:00Z",
        "provider_name": "北京协和医院",
    },
    Kind.CLAIM_PENDED: {"charged": "60000.00", "currency": "CNY"},
    Kind.CLAIM_DECIDED: {
        "decision_version": 1,
        "outcome": "partially_approved",
        "currency": "CNY",
        "charged": "1100.00",
        "allowed": "1100.00",
        "payable": "240.00",
        "member_responsibility": "860.00",
        "payee": "member",
        "lines": LINES,
        "denial_reasons": ["NOT_COVERED"],
        "pays": True,
    },
    Kind.PAYMENT_SENT: {"payment_id": "P-1", "amount": "450.00", "currency": "CNY", "payee": "provider"},
    Kind.PAYMENT_FAILED: {
        "payment_id": "P-1",
        "amount": "450.00",
        "currency": "CNY",
        "payee": "member",
        "reason": "account closed",
        "retryable": False,
    },
    Kind.DISPUTE_RECEIVED: {"disputed_decision_version": 1},
    Kind.VERIFICATION_REQUESTED: {"review_id": "R-9", "message": "请确认CT检查记录", "patient": "张三"},
    Kind.SURVEY: {
        "survey_url": "https://claims.example.com/v1/feedback?token=abc.def.ghi",
        "expires_at": "2026-06-01T00:00:00+00:00",
        "decision_version": 1,
        "closed_as": "paid",
    },
}

EXPECTED_ZH: dict[Kind, list[str]] = {
    Kind.DOCUMENTS_REQUESTED: ["身份证明", "出院小结", "2026年4月10日"],
    Kind.CLAIM_RECEIVED: ["¥1,100.00"],
    Kind.CLAIM_PENDED: ["¥60,000.00"],
    Kind.CLAIM_DECIDED: ["部分批准", "¥240.00"],
    Kind.PAYMENT_SENT: ["¥450.00", "医疗机构"],
    Kind.PAYMENT_FAILED: ["¥450.00"],
    Kind.DISPUTE_RECEIVED: ["申诉"],
    Kind.VERIFICATION_REQUESTED: ["R-9"],
    Kind.SURVEY: ["/v1/feedback?token=abc.def.ghi"],
}
EXPECTED_EN: dict[Kind, list[str]] = {
    Kind.DOCUMENTS_REQUESTED: ["proof of identity", "discharge summary", "April 10, 2026"],
    Kind.CLAIM_RECEIVED: ["CN¥1,100.00"],
    Kind.CLAIM_PENDED: ["CN¥60,000.00"],
    Kind.CLAIM_DECIDED: ["partially approved", "CN¥240.00"],
    Kind.PAYMENT_SENT: ["CN¥450.00", "the hospital"],
    Kind.PAYMENT_FAILED: ["CN¥450.00"],
    Kind.DISPUTE_RECEIVED: ["dispute"],
    Kind.VERIFICATION_REQUESTED: ["R-9"],
    Kind.SURVEY: ["/v1/feedback?token=abc.def.ghi"],
}

renderer = Renderer()


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("kind", list(Kind))
def test_every_template_renders(kind: Kind, channel: Channel, locale: str):
    assert (TEMPLATES / template_name(kind, channel, locale)).is_file()
    rendered = renderer.render(kind, channel, locale, {"claim_id": "C-42", "name": "张三", **SAMPLES[kind]})
    assert rendered.body
    assert "C-42" in rendered.body or channel is Channel.IN_APP or kind is Kind.VERIFICATION_REQUESTED
    if channel is Channel.SMS:
        assert rendered.subject is None
        assert len(rendered.body) <= 400
    else:
        assert rendered.subject
    expected = EXPECTED_ZH[kind] if locale == "zh-CN" else EXPECTED_EN[kind]
    for text in expected:
        assert text in rendered.body, (text, rendered.body)
    if locale == "en":
        assert not any(
            "\u4e00" <= ch <= "\u9fff"
            for ch in rendered.body.replace("张三", "").replace("北京协和医院", "").replace("请确认CT检查记录", "")
        )


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.IN_APP])
def test_decision_lists_every_explanation_line(channel: Channel, locale: str):
    body = renderer.render(
        Kind.CLAIM_DECIDED, channel, locale, {"claim_id": "C-1", "name": "n", **SAMPLES[Kind.CLAIM_DECIDED]}
    ).body
    key = "explanation_zh" if locale == "zh-CN" else "explanation_en"
    assert LINES[0][key] in body
    for adjustment in LINES[0]["adjustments"]:
        assert adjustment[key] in body
    assert ("¥300.00" if locale == "zh-CN" else "CN¥300.00") in body
    assert ("不在保障范围内" if locale == "zh-CN" else "not covered") in body


def test_unsupported_locale_falls_back_to_chinese():
    rendered = renderer.render(
        Kind.DISPUTE_RECEIVED,
        Channel.IN_APP,
        "fr-FR",
        {"claim_id": "C-1", "name": "n", **SAMPLES[Kind.DISPUTE_RECEIVED]},
    )
    assert "申诉" in rendered.body
