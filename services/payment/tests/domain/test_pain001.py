"""The pain.001.001.09 file: well-formed, counts and control sums matching."""

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from claims_payment.domain.pain001 import NAMESPACE, CreditTransfer, Party, build_pain001

NS = {"p": NAMESPACE}


def _transfer(n: int, amount: str) -> CreditTransfer:
    return CreditTransfer(
        end_to_end_id=f"{n:032x}",
        amount=Decimal(amount),
        currency="CNY",
        creditor_name="张三",
        creditor_account="6222020200001234567",
        creditor_bank_code="ICBC",
        remittance=f"Claim C-{n} decision 1",
    )


def _build(transfers):
    return build_pain001(
        message_id="a" * 32,
        created_at=datetime(2026, 3, 12, 8, 30, tzinfo=UTC),
        execution_date=date(2026, 3, 12),
        debtor=Party("Claims Insurer", "INSURER0001", "ICBC"),
        transfers=transfers,
    )


def test_file_parses_and_states_count_and_control_sum():
    transfers = [_transfer(1, "450.00"), _transfer(2, "0.01"), _transfer(3, "1234.56")]
    root = ET.fromstring(_build(transfers))
    assert root.tag == f"{{{NAMESPACE}}}Document"
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    info = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert header is not None
    assert info is not None
    amounts = [Decimal(e.text or "") for e in info.findall("p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)]
    assert amounts == [Decimal("450.00"), Decimal("0.01"), Decimal("1234.56")]
    for block in (header, info):
        assert block.findtext("p:NbOfTxs", namespaces=NS) == "3"
        assert block.findtext("p:CtrlSum", namespaces=NS) == "1684.57"
    assert header.findtext("p:CreDtTm", namespaces=NS) == "2026-03-12T08:30:00Z"
    assert info.findtext("p:ReqdExctnDt/p:Dt", namespaces=NS) == "2026-03-12"
    assert [e.text for e in info.findall("p:CdtTrfTxInf/p:PmtId/p:EndToEndId", NS)] == [
        t.end_to_end_id for t in transfers
    ]
    assert {e.get("Ccy") for e in info.findall("p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)} == {"CNY"}
    assert info.findtext("p:CdtTrfTxInf/p:Cdtr/p:Nm", namespaces=NS) == "张三"


def test_elements_follow_the_schema_order():
    root = ET.fromstring(_build([_transfer(1, "1.00")]))
    info = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info is not None
    local = [child.tag.split("}")[1] for child in info]
    assert local == [
        "PmtInfId", "PmtMtd", "BtchBookg", "NbOfTxs", "CtrlSum", "ReqdExctnDt",
        "Dbtr", "DbtrAcct", "DbtrAgt", "ChrgBr", "CdtTrfTxInf",
    ]  # fmt: skip
    tx = info.find("p:CdtTrfTxInf", NS)
    assert tx is not None
    assert [c.tag.split("}")[1] for c in tx] == ["PmtId", "Amt", "CdtrAgt", "Cdtr", "CdtrAcct", "RmtInf"]


def test_empty_or_mixed_currency_batches_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        _build([])
    usd = CreditTransfer("b" * 32, Decimal("1.00"), "USD", "x", "12345678", "BOA", "r")
    with pytest.raises(ValueError, match="one currency"):
        _build([_transfer(1, "1.00"), usd])
