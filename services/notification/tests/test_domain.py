"""Pure rules: which messages a notice yields, locales, masking, backoff, survey tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import jwt
import pytest

from claims_notification.domain.formatting import format_date, format_datetime, format_money, label
from claims_notification.domain.model import (
    Channel,
    Contact,
    Kind,
    Preferences,
    backoff_delay,
    mask_contacts_in_text,
    mask_email,
    mask_phone,
    plan_deliveries,
    resolve_locale,
)
from claims_notification.domain.survey import TokenExpired, TokenInvalid, sign_survey_token, verify_survey_token

ALL = frozenset(Channel)
CONTACT = Contact("张三", "zhangsan@example.com", "+8613800000000", "zh-CN")
SECRET = "s" * 40
NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def _channels(deliveries) -> set[Channel]:
    return {d.channel for d in deliveries}


def test_every_configured_channel_with_an_address_gets_one_message():
    out = plan_deliveries(Kind.CLAIM_DECIDED, CONTACT, Preferences(), ALL)
    assert sorted(out, key=lambda d: d.channel) == sorted(
        [
            *plan_deliveries(Kind.CLAIM_DECIDED, CONTACT, Preferences(), frozenset({Channel.IN_APP})),
            *[d for d in out if d.channel is not Channel.IN_APP],
        ],
        key=lambda d: d.channel,
    )
    assert {(d.channel, d.address) for d in out} == {
        (Channel.IN_APP, None),
        (Channel.EMAIL, "zhangsan@example.com"),
        (Channel.SMS, "+8613800000000"),
    }


def test_opt_outs_and_missing_addresses_leave_in_app_only():
    assert _channels(plan_deliveries(Kind.CLAIM_DECIDED, CONTACT, Preferences(email=False, sms=False), ALL)) == {
        Channel.IN_APP
    }
    assert _channels(plan_deliveries(Kind.CLAIM_DECIDED, Contact("x"), Preferences(), ALL)) == {Channel.IN_APP}
    unconfigured = frozenset({Channel.IN_APP, Channel.SMS})
    assert _channels(plan_deliveries(Kind.CLAIM_RECEIVED, CONTACT, Preferences(), unconfigured)) == {
        Channel.IN_APP,
        Channel.SMS,
    }


def test_survey_opt_out_means_no_survey_anywhere_but_other_messages_still_go():
    no_surveys = Preferences(surveys=False)
    assert plan_deliveries(Kind.SURVEY, CONTACT, no_surveys, ALL) == []
    assert _channels(plan_deliveries(Kind.PAYMENT_SENT, CONTACT, no_surveys, ALL)) == ALL
    assert not no_surveys.allows(Channel.IN_APP, Kind.SURVEY)
    assert no_surveys.allows(Channel.IN_APP, Kind.CLAIM_DECIDED)


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        ((None, None), "zh-CN"),
        (("en-US",), "en"),
        (("en_GB",), "en"),
        (("zh-Hans",), "zh-CN"),
        (("fr", "en"), "en"),
        (("fr",), "zh-CN"),
        ((None, "en"), "en"),
    ],
)
def test_locale_resolution(candidates, expected):
    assert resolve_locale(*candidates) == expected


def test_default_locale_can_be_english():
    assert resolve_locale(None, "de", default="en") == "en"


def test_amounts_and_dates_are_written_for_the_locale():
    assert format_money(Decimal("1234.5"), "CNY", "zh-CN") == "¥1,234.50"
    assert format_money("450", "CNY", "en") == "CN¥450.00"
    assert format_money("0.00", "CNY", "zh-CN") == "¥0.00"
    assert format_date("2026-03-10", "zh-CN") == "2026年3月10日"
    assert format_date("2026-03-10", "en") == "March 10, 2026"
    assert format_datetime("2026-03-10T04:05:00+00:00", "zh-CN") == "2026年3月10日 04:05"
    assert format_datetime(datetime(2026, 3, 10, 16, 5, tzinfo=UTC), "en") == "March 10, 2026, 4:05 PM"


def test_codes_get_the_readers_words():
    assert label("document", "itemized_bill", "zh-CN") == "费用明细清单"
    assert label("document", "itemized_bill", "en") == "itemized bill"
    assert label("reason", "DEDUCTIBLE", "en") == "deductible"
    assert label("reason", "SOMETHING_NEW", "en") == "SOMETHING_NEW"


def test_masking_keeps_addresses_out_of_logs():
    assert mask_email("zhangsan@example.com") == "z***@example.com"
    assert mask_phone("+8613800000000") == "+86138****0000"
    text = mask_contacts_in_text("550 <zhangsan@example.com> refused; call +8613800000000")
    assert "zhangsan@" not in text
    assert "13800000000" not in text


def test_backoff_doubles_and_is_capped():
    assert [backoff_delay(n, 1.0, 10.0).total_seconds() for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_survey_token_round_trip_is_bound_to_survey_and_claim():
    token = sign_survey_token(SECRET, "S-1", "C-1", NOW, timedelta(days=30))
    verified = verify_survey_token(SECRET, token, NOW + timedelta(days=29))
    assert (verified.survey_id, verified.claim_id) == ("S-1", "C-1")
    assert verified.expires_at == NOW + timedelta(days=30)


def test_survey_token_expires():
    token = sign_survey_token(SECRET, "S-1", "C-1", NOW, timedelta(days=30))
    with pytest.raises(TokenExpired):
        verify_survey_token(SECRET, token, NOW + timedelta(days=30, seconds=1))


def test_forged_and_tampered_survey_tokens_are_refused():
    token = sign_survey_token(SECRET, "S-1", "C-1", NOW, timedelta(days=30))
    with pytest.raises(TokenInvalid):
        verify_survey_token("another-secret-" + "x" * 30, token, NOW)
    head, body, sig = token.split(".")
    with pytest.raises(TokenInvalid):
        verify_survey_token(SECRET, f"{head}.{body}.{sig[:-2]}AA", NOW)
    with pytest.raises(TokenInvalid):
        verify_survey_token(SECRET, "not-a-token", NOW)
    # a valid JWT of the same secret but not a survey token (another audience)
    other = jwt.encode({"sub": "u-1", "exp": int(NOW.timestamp()) + 60, "aud": "claims"}, SECRET, algorithm="HS256")
    with pytest.raises(TokenInvalid):
        verify_survey_token(SECRET, other, NOW)
