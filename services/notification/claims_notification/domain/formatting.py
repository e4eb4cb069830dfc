"""Amounts, dates and codes written for a reader in their locale (CLDR data through Babel)."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_currency as _babel_currency

from claims_notification.domain.model import SUPPORTED_LOCALES, resolve_locale

__all__ = ["format_date", "format_datetime", "format_money", "label"]

# Parsed once: Babel would otherwise parse (and normalise) the locale name again for every value.
_LOCALES: dict[str, Locale] = {loc: Locale.parse(loc.replace("-", "_")) for loc in SUPPORTED_LOCALES}


def _babel_locale(locale: str) -> Locale:
    return _LOCALES[resolve_locale(locale)]


# The formatters below are pure, so their results are kept: amounts and dates recur across messages and claims.


@lru_cache(maxsize=4096)
def format_money(amount: Decimal | str, currency: str, locale: str) -> str:
    """``450.00 CNY`` → ``¥450.00`` (zh-CN) or ``CN¥450.00`` (en); always two decimals."""
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    return str(
        _babel_currency(value, currency, locale=_babel_locale(locale), currency_digits=False, format_type="standard")
    )


@lru_cache(maxsize=4096)
def format_date(value: date | str, locale: str) -> str:
    """``2026-03-10`` → ``2026年3月10日`` (zh-CN) or ``March 10, 2026`` (en)."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return str(_babel_date(day, "long", locale=_babel_locale(locale)))


@lru_cache(maxsize=4096)
def format_datetime(value: datetime | str, locale: str, tz: tzinfo = UTC) -> str:
    """An instant shown in ``tz`` for the locale (``2026年3月10日 12:05`` / ``March 10, 2026, 12:05 PM``)."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    pattern = "yyyy年M月d日 HH:mm" if resolve_locale(locale) == "zh-CN" else "MMMM d, yyyy, h:mm a"
    return str(_babel_datetime(instant, pattern, tzinfo=tz, locale=_babel_locale(locale)))


_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    # group -> code -> (zh-CN, en)
    "document": {
        "claim_form": ("理赔申请表", "claim form"),
        "id_proof": ("身份证明", "proof of identity"),
        "itemized_bill": ("费用明细清单", "itemized bill"),
        "invoice": ("医疗费用发票", "invoice"),
        "medical_record": ("病历", "medical record"),
        "discharge_summary": ("出院小结", "discharge summary"),
        "prescription": ("处方", "prescription"),
        "other": ("其他材料", "other document"),
    },
    "category": {
        "consultation": ("诊查费", "consultation"),
        "examination": ("检查费", "examination"),
        "imaging": ("影像费", "imaging"),
        "drugs": ("药品费", "drugs"),
        "surgery": ("手术费", "surgery"),
        "room": ("床位费", "room"),
        "nursing": ("护理费", "nursing"),
        "consumables": ("耗材费", "consumables"),
        "other": ("其他费用", "other"),
    },
    "claim_type": {
        "outpatient": ("门诊", "outpatient"),
        "inpatient": ("住院", "inpatient"),
        "emergency": ("急诊", "emergency"),
        "pharmacy": ("药房", "pharmacy"),
    },
    "outcome": {
        "approved": ("已批准", "approved"),
        "partially_approved": ("部分批准", "partially approved"),
        "denied": ("拒赔", "denied"),
    },
    "payee": {
        "member": ("被保险人本人", "you"),
        "provider": ("医疗机构", "the hospital"),
    },
    "reason": {
        "DEDUCTIBLE": ("免赔额", "deductible"),
        "COINSURANCE": ("自付比例", "coinsurance"),
        "OTHER_INSURANCE": ("其他保险已赔付", "paid by other insurance"),
        "COVERAGE_INACTIVE": ("不在保障期间内", "coverage not active"),
        "NOT_COVERED": ("不在保障范围内", "not covered"),
        "OVER_LIMIT": ("超出限额", "over the limit"),
        "BENEFIT_MAXIMUM": ("已达保障上限", "benefit maximum reached"),
        "WAITING_PERIOD": ("等待期内", "waiting period"),
        "EXCLUDED_CONDITION": ("责任免除的疾病", "excluded condition"),
        "POLICY_NOT_FOUND": ("未找到保单", "policy not found"),
        "MEMBER_NOT_COVERED": ("非保单被保险人", "member not covered by the policy"),
        "REVIEWER_ADJUSTMENT": ("审核调整", "reviewer adjustment"),
        "REVIEWER_DENIAL": ("审核拒赔", "reviewer denial"),
    },
}


def label(group: str, code: str, locale: str) -> str:
    """The reader's word for a code (a document type, a category, an adjustment reason…); the code if unknown."""
    entry = _LABELS.get(group, {}).get(str(code))
    if entry is None:
        return str(code)
    return entry[0] if resolve_locale(locale) == "zh-CN" else entry[1]
