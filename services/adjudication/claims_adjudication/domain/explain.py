# ruff: noqa: RUF001  (full-width Chinese punctuation and the multiplication sign are meant)
"""Plain-language explanations of adjustments, in zh-CN and en, with the numbers that produced them.

Each function returns ``(zh, en)``. Amounts are written with two decimals and thousands separators and
without a currency code (a claim has one currency, the plan's, shown once by whoever renders the EOB).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from .model import LineResult

Texts = tuple[str, str]

CATEGORY_NAMES_ZH = {
    "consultation": "诊查费",
    "examination": "检查费",
    "imaging": "影像费",
    "drugs": "药品费",
    "surgery": "手术费",
    "room": "床位费",
    "nursing": "护理费",
    "consumables": "耗材费",
    "other": "其他费用",
}


def money(amount: Decimal) -> str:
    """An amount as text: 1,234.50."""
    return f"{amount:,.2f}"


def percent(rate: Decimal) -> str:
    """A rate as a percentage: 0.80 -> 80%, 0.755 -> 75.5%."""
    return f"{format((rate * 100).normalize(), 'f')}%"


def _cat_zh(category: str) -> str:
    return CATEGORY_NAMES_ZH.get(category, category)


def deductible(annual: Decimal, used_before: Decimal, applied: Decimal) -> Texts:
    """Text for an amount applied to the annual deductible."""
    year, used = money(annual), money(used_before)
    left = money(max(annual - used_before - applied, Decimal(0)))
    zh = f"计入年度免赔额（每年 {year}；本项之前已使用 {used}，本项之后剩余 {left}）。"
    state = f"{year} per year; {used} used before this line, {left} left after it"
    en = f"Applied to your annual deductible ({state})."
    return zh, en


def coinsurance(category: str, rate: Decimal, base: Decimal, payable: Decimal) -> Texts:
    """Text for the member's coinsurance share."""
    pct, share = percent(rate), money(base - payable)
    formula = f"{money(base)} × {pct} = {money(payable)}"
    zh = f"{_cat_zh(category)}按 {pct} 赔付：{formula}，其余 {share} 由您自付。"
    en = (
        f"Your coinsurance for {category}: the plan pays {pct} of {money(base)}, which is {money(payable)}; "
        f"the remaining {share} is your share."
    )
    return zh, en


def other_insurance(paid: Decimal, amount: Decimal) -> Texts:
    """Text for the part of a line that another insurer paid."""
    if paid >= amount:
        zh = f"其他保险已支付 {money(paid)}，已覆盖本项全部收费 {money(amount)}。"
        en = f"Another insurer paid {money(paid)}, which covers the whole charge of {money(amount)}."
        return zh, en
    zh = f"已由其他保险支付（收费 {money(amount)} 中的 {money(paid)}）。"
    en = f"Already paid by another insurer ({money(paid)} of the {money(amount)} charged)."
    return zh, en


def over_limit(category: str, per_day: Decimal, quantity: Decimal, cap: Decimal) -> Texts:
    """Text for the part of a line above its per-day limit."""
    formula = f"{money(per_day)} × {format(quantity.normalize(), 'f')} = {money(cap)}"
    zh = f"超出{_cat_zh(category)}每日限额：最多认可 {formula}。"
    en = f"Above the per-day limit for {category}: at most {formula} is allowed."
    return zh, en


def category_sublimit(category: str, sublimit: Decimal, paid_before: Decimal, remaining: Decimal) -> Texts:
    """Text for a cut by the category's annual sublimit."""
    limit, paid, left = money(sublimit), money(paid_before), money(remaining)
    zh = f"已达{_cat_zh(category)}年度限额 {limit}：本保单年度已赔付 {paid}，本项最多可赔付 {left}。"
    en = (
        f"The annual limit for {category} of {limit} is reached: {paid} was already paid this policy year, "
        f"so at most {left} could be paid on this line."
    )
    return zh, en


def per_claim_limit(limit: Decimal, paid_before: Decimal, remaining: Decimal) -> Texts:
    """Text for a cut by the per-claim limit."""
    cap, paid, left = money(limit), money(paid_before), money(remaining)
    zh = f"已达每次理赔限额 {cap}：本次理赔之前的费用项已赔付 {paid}，本项最多可赔付 {left}。"
    en = (
        f"The per-claim limit of {cap} is reached: {paid} was paid on earlier lines of this claim, "
        f"so at most {left} could be paid on this line."
    )
    return zh, en


def annual_limit(limit: Decimal, paid_before: Decimal, remaining: Decimal) -> Texts:
    """Text for a cut by the annual benefit limit."""
    cap, paid, left = money(limit), money(paid_before), money(remaining)
    zh = f"已达年度保险金额上限 {cap}：本保单年度已赔付 {paid}，本项最多可赔付 {left}。"
    en = (
        f"Your annual benefit limit of {cap} is reached: {paid} was already paid this policy year, "
        f"so at most {left} could be paid on this line."
    )
    return zh, en


def coverage_inactive(service_date: date, effective: date, expiry: date) -> Texts:
    """Text for a service outside the policy period."""
    day, start, end = service_date.isoformat(), effective.isoformat(), expiry.isoformat()
    zh = f"服务日期 {day} 不在保单有效期（{start} 至 {end}）内。"
    en = f"The service on {day} is outside your policy period ({start} to {end})."
    return zh, en


def policy_not_in_force(policy_number: str, status: str) -> Texts:
    """Text for a policy whose status pays no benefits."""
    zh = f"保单 {policy_number} 当前状态为“{status}”，不予赔付。"
    en = f"Policy {policy_number} is {status}, so it pays no benefits."
    return zh, en


def waiting_period(service_date: date, days: int, first_covered: date) -> Texts:
    """Text for a service inside the waiting period."""
    day, first = service_date.isoformat(), first_covered.isoformat()
    zh = f"服务日期 {day} 在保单 {days} 天等待期内；疾病自 {first} 起予以保障（意外事故不受等待期限制）。"
    en = (
        f"The service on {day} falls in the {days}-day waiting period of your policy; "
        f"illness is covered from {first} (accidents at once)."
    )
    return zh, en


def not_covered(category: str, plan_name: str) -> Texts:
    """Text for a category that the plan does not cover."""
    zh = f"您的保险计划“{plan_name}”不保障{_cat_zh(category)}。"
    en = f"{category.capitalize()} is not covered by your plan {plan_name}."
    return zh, en


def excluded_condition(diagnosis: str, prefix: str) -> Texts:
    """Text for a primary diagnosis that the plan excludes."""
    zh = f"主要诊断 {diagnosis} 属于保险计划的除外责任（以 {prefix} 开头的诊断不予保障）。"
    en = f"The primary diagnosis {diagnosis} is excluded by your plan (diagnoses starting with {prefix})."
    return zh, en


def policy_not_found(policy_number: str) -> Texts:
    """Text for an unknown policy."""
    zh = f"未找到保单 {policy_number}，无法确认您的被保险人身份。"
    en = f"Policy {policy_number} could not be found, so you cannot be identified as insured."
    return zh, en


def member_not_covered(member_id: str, policy_number: str) -> Texts:
    """Text for a member who is not on the policy."""
    zh = f"被保险人 {member_id} 不在保单 {policy_number} 的保障范围内。"
    en = f"Member {member_id} is not insured under policy {policy_number}."
    return zh, en


def currency_mismatch(claim_currency: str, plan_currency: str) -> Texts:
    """Text for a claim billed in another currency than the plan's."""
    zh = f"理赔币种 {claim_currency} 与保险计划币种 {plan_currency} 不一致，请以 {plan_currency} 重新提交。"
    en = f"The claim is in {claim_currency} but your plan pays in {plan_currency}; please resubmit in {plan_currency}."
    return zh, en


def reviewer_adjustment(before: Decimal, after: Decimal, reason: str) -> Texts:
    """Text for a reviewer's cut of a line."""
    zh = f"经理赔审核调整，赔付由 {money(before)} 调减为 {money(after)}：{reason}"
    en = f"Reduced by the claims reviewer from {money(before)} to {money(after)}: {reason}"
    return zh, en


def reviewer_denial(reason: str) -> Texts:
    """Text for a reviewer's denial."""
    return f"经理赔审核拒付：{reason}", f"Denied by the claims reviewer: {reason}"


def explain_line(line: LineResult, locale: str = "zh-CN") -> str:
    """The whole explanation of one line, for an explanation of benefits."""
    charged, allowed, payable = money(line.charged), money(line.allowed), money(line.payable)
    if locale.lower().startswith("zh"):
        parts = [f"{money(a.amount)}：{a.explanation_zh}" for a in line.adjustments]
        return f"收费 {charged}，认可 {allowed}，赔付 {payable}。" + "".join(parts)
    parts = [f"{money(a.amount)} not paid: {a.explanation_en}" for a in line.adjustments]
    return " ".join([f"Charged {charged}, allowed {allowed}, payable {payable}.", *parts])
