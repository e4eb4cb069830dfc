"""ISO 20022 ``pain.001.001.09`` customer credit transfer initiation, built with the standard library."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Party:
    """The ordering party (the insurer) and the account it pays from."""

    name: str
    account: str
    bank_code: str


@dataclass(frozen=True)
class CreditTransfer:
    """One transfer of a batch."""

    end_to_end_id: str
    amount: Decimal
    currency: str
    creditor_name: str
    creditor_account: str
    creditor_bank_code: str
    remittance: str


def control_sum(transfers: Sequence[CreditTransfer]) -> Decimal:
    """The sum of the transfers' amounts, as ``CtrlSum`` states it."""
    return sum((t.amount for t in transfers), ZERO)


def _text(value: str, limit: int) -> str:
    return value[:limit]


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def _agent(parent: ET.Element, tag: str, bank_code: str) -> None:
    _sub(_sub(_sub(_sub(parent, tag), "FinInstnId"), "Othr"), "Id", _text(bank_code, 35))


def _account(parent: ET.Element, tag: str, number: str, currency: str | None = None) -> None:
    account = _sub(parent, tag)
    _sub(_sub(_sub(account, "Id"), "Othr"), "Id", _text(number, 34))
    if currency:
        _sub(account, "Ccy", currency)


def build_pain001(
    *,
    message_id: str,
    created_at: datetime,
    execution_date: date,
    debtor: Party,
    transfers: Sequence[CreditTransfer],
) -> bytes:
    """The XML document of one batch; every transfer must be in the same currency.

    ``NbOfTxs`` and ``CtrlSum`` appear on the group header and on the payment information block.
    """
    if not transfers:
        raise ValueError("a batch has at least one transfer")
    currencies = {t.currency for t in transfers}
    if len(currencies) != 1:
        raise ValueError("a batch pays in one currency")
    currency = currencies.pop()
    count, total = str(len(transfers)), f"{control_sum(transfers):.2f}"
    ET.register_namespace("", NAMESPACE)
    document = ET.Element(f"{{{NAMESPACE}}}Document")
    root = ET.SubElement(document, "CstmrCdtTrfInitn")
    header = _sub(root, "GrpHdr")
    _sub(header, "MsgId", _text(message_id, 35))
    _sub(header, "CreDtTm", created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _sub(header, "NbOfTxs", count)
    _sub(header, "CtrlSum", total)
    _sub(_sub(header, "InitgPty"), "Nm", _text(debtor.name, 140))
    info = _sub(root, "PmtInf")
    _sub(info, "PmtInfId", _text(message_id, 35))
    _sub(info, "PmtMtd", "TRF")
    _sub(info, "BtchBookg", "false")
    _sub(info, "NbOfTxs", count)
    _sub(info, "CtrlSum", total)
    _sub(_sub(info, "ReqdExctnDt"), "Dt", execution_date.isoformat())
    _sub(_sub(info, "Dbtr"), "Nm", _text(debtor.name, 140))
    _account(info, "DbtrAcct", debtor.account, currency)
    _agent(info, "DbtrAgt", debtor.bank_code)
    _sub(info, "ChrgBr", "DEBT")
    for transfer in transfers:
        tx = _sub(info, "CdtTrfTxInf")
        ids = _sub(tx, "PmtId")
        _sub(ids, "InstrId", _text(transfer.end_to_end_id, 35))
        _sub(ids, "EndToEndId", _text(transfer.end_to_end_id, 35))
        _sub(_sub(tx, "Amt"), "InstdAmt", f"{transfer.amount:.2f}", Ccy=transfer.currency)
        _agent(tx, "CdtrAgt", transfer.creditor_bank_code)
        _sub(_sub(tx, "Cdtr"), "Nm", _text(transfer.creditor_name, 140))
        _account(tx, "CdtrAcct", transfer.creditor_account)
        _sub(_sub(tx, "RmtInf"), "Ustrd", _text(transfer.remittance, 140))
    return bytes(ET.tostring(document, encoding="utf-8", xml_declaration=True))
