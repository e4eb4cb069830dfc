"""The payment service's use cases, each inside the caller's unit of work (which alone commits).

The bank worker's look at its queues (``bank_work``) and its questions to the bank (``ask_bank``) lock
nothing and run outside one; ``bank_round`` then changes what the answers say, in one unit of work.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from claims_contracts.events import (
    ClaimAdjudicated,
    ClaimReceived,
    OverpaymentRecorded,
    PaymentCompleted,
    PaymentFailed,
    PaymentReturned,
    PaymentScheduled,
    PaymentSent,
)
from claims_payment.config import PaymentSettings
from claims_payment.crypto import AccountCipher
from claims_payment.db.models import PaymentRow, ProviderAccountRow
from claims_payment.db.repositories import (
    Account,
    AtBank,
    BankPayment,
    BankWork,
    BatchRepository,
    DecisionRepository,
    LedgerRepository,
    OverpaymentRepository,
    PayeeRepository,
    Payees,
    PaymentRepository,
    bank_worklist,
    prepare_read,
)
from claims_payment.domain import ledger
from claims_payment.domain.amounts import PriorPayment, committed_amount, plan_decision
from claims_payment.domain.bank import (
    Bank,
    BankUnavailable,
    Submission,
    TransferBatch,
    TransferState,
    TransferStatus,
)
from claims_payment.domain.model import (
    RETRYABLE_BY_OPERATOR,
    HoldReason,
    InvalidTransition,
    Payee,
    PaymentStatus,
    backoff_seconds,
    transition,
)
from claims_payment.domain.pain001 import CreditTransfer
from claims_platform.db import UnitOfWork
from claims_platform.inbox import describe
from claims_platform.logging import get_logger

log = get_logger(__name__)

ZERO = Decimal("0.00")

_Submitted = tuple[
    list[BankPayment], list[CreditTransfer], dict[str, Any] | None, Sequence[Submission] | BankUnavailable
]
"""A currency's payments, their transfers (in the same order), and the batch's row with the bank's answers
(or why there is none)."""


def utcnow() -> datetime:
    """The current instant in UTC."""
    return datetime.now(UTC)


_COMMON_COLUMNS = ("claim_id", "id", "decision_version", "amount", "currency", "payee")
_COMMON_OF_ROW = attrgetter(*_COMMON_COLUMNS)
_COMMON_OF_VALUES = itemgetter(*_COMMON_COLUMNS)


def _payment_account(payee: str, payees: Payees) -> dict[str, Any]:
    """A payment's account columns for its payee: the account copied, or all None and the reason it waits."""
    if payee == Payee.PROVIDER:
        account, waiting = payees.provider, HoldReason.AWAITING_PROVIDER_ACCOUNT
    else:
        account, waiting = payees.member, HoldReason.AWAITING_MEMBER_ACCOUNT
    if account is None:
        return {
            "hold_reason": waiting.value,
            "creditor_name": None,
            "account_number_enc": None,
            "account_last4": None,
            "bank_code": None,
        }
    return {
        "hold_reason": None,
        "creditor_name": account.holder,
        "account_number_enc": account.account_number_enc,
        "account_last4": account.account_last4,
        "bank_code": account.bank_code,
    }


class RetryRefused(Exception):
    """An operator retry that the payment's state does not allow."""


@dataclass(frozen=True)
class ProviderAccountResult:
    """A registered account and how many waiting payments it released."""

    account: ProviderAccountRow
    released: int


@dataclass(frozen=True)
class BankNews:
    """An answer of the bank that changes a payment, about the transfer ``bank_reference`` of it."""

    payment_id: uuid.UUID
    bank_reference: str | None
    answer: TransferStatus


class PaymentService:
    """Decisions into payments, payments to the bank, and every status change with its ledger movement."""

    def __init__(
        self, settings: PaymentSettings, cipher: AccountCipher, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.settings = settings
        self.cipher = cipher
        self.clock = clock

    async def prepare_batch(self, uow: UnitOfWork, events: Sequence[ClaimReceived | ClaimAdjudicated]) -> None:
        """Before a consumer's batch of events is handled (the kit's prepare step), what their handlers would
        each do with a statement of its own, done for all at once.

        First the locks the batch will take, in one statement (each event's own ``lock_claim`` then finds
        them held). Then, for the claims whose first event in the batch is a ``ClaimReceived``, their payee
        details recorded and their payments not yet sent locked, in one statement; for those whose first
        is a ``ClaimAdjudicated``, the decision's context read, in one statement (PostgreSQL). Under the
        locks, and before any event of these claims is handled, so each handler takes what it would have
        written and read itself. A claim's later events in the batch (whose earlier ones change what they
        see) write and read for themselves, as does a lone claim of either kind.
        """
        await DecisionRepository(uow.session).lock_claims(
            [(e.claim_id, e.provider.provider_id if isinstance(e, ClaimReceived) else e.provider_id) for e in events]
        )
        first: dict[str, ClaimReceived | ClaimAdjudicated] = {}
        for event in events:
            first.setdefault(event.claim_id, event)
        received = [e for e in first.values() if isinstance(e, ClaimReceived)]
        if len(received) > 1:
            await PayeeRepository(uow.session).add_claims([self._payee(e) for e in received])
        decided = [
            (e.claim_id, e.decision_version, e.provider_id) for e in first.values() if isinstance(e, ClaimAdjudicated)
        ]
        if len(decided) > 1:
            await DecisionRepository(uow.session).read_contexts(decided)

    # --- payee details -------------------------------------------------------------------------

    async def record_claim(self, uow: UnitOfWork, event: ClaimReceived) -> None:
        """Keep the claim's payee (and the member's account, encrypted); release payments waiting for it."""
        # Lock order everywhere: claim, then provider, then payment rows (no deadlock with a registration).
        # A decision may be arriving concurrently.
        await DecisionRepository(uow.session).lock_claim(event.claim_id, provider_id=event.provider.provider_id)
        payees = PayeeRepository(uow.session)
        payments = await payees.scheduled(event.claim_id)  # recorded ahead by ``prepare_batch``
        if payments is None:
            await payees.add_claims([self._payee(event)])
            payments = await payees.scheduled(event.claim_id)
        for payment in payments or ():
            await self._resolve_account(uow, payment)

    def _payee(self, event: ClaimReceived) -> dict[str, Any]:
        """The claim's row of ``claim_payees``."""
        account = event.bank_account
        return {
            "claim_id": event.claim_id,
            "member_id": event.member.member_id,
            "provider_id": event.provider.provider_id,
            "payee": event.payee.value,
            "currency": event.currency,
            "account_holder": account.holder if account else None,
            "account_number_enc": self.cipher.encrypt(account.account_number) if account else None,
            "account_last4": account.account_number[-4:] if account else None,
            "bank_code": account.bank_code if account else None,
            "received_at": self.clock(),
        }

    async def register_provider_account(
        self, uow: UnitOfWork, provider_id: str, *, holder: str, account_number: str, bank_code: str, by: str
    ) -> ProviderAccountResult:
        """Register or replace a hospital's account; its payments not yet sent use it from now on."""
        payees = PayeeRepository(uow.session)
        now = self.clock()
        await payees.lock_provider(provider_id, exclusive=True)  # waits for the payments reading the old account
        row = await payees.provider(provider_id, for_update=True)
        if row is None:
            row = ProviderAccountRow(provider_id=provider_id)
            payees.add_provider(row)
        row.holder = holder
        row.account_number_enc = self.cipher.encrypt(account_number)
        row.account_last4 = account_number[-4:]
        row.bank_code = bank_code
        row.updated_at = now
        row.updated_by = by
        await uow.session.flush()
        released = 0
        for payment in await PaymentRepository(uow.session).scheduled_for_provider(provider_id):
            was_held = payment.hold_reason is not None
            await self._resolve_account(uow, payment)
            released += int(was_held and payment.hold_reason is None)
        log.info("provider account registered", provider_id=provider_id, released=released)
        return ProviderAccountResult(row, released)

    async def _resolve_account(self, uow: UnitOfWork, payment: PaymentRow) -> None:
        """Copy the payee's account onto a scheduled payment, or hold it until the account is known."""
        repo = PayeeRepository(uow.session)
        if payment.payee == Payee.PROVIDER:
            await repo.lock_provider(payment.provider_id)  # a registration may be committing concurrently
        await prepare_read(uow.session)  # the payee lookups below read accounts only
        with uow.session.no_autoflush:
            if payment.payee == Payee.PROVIDER:
                payees = Payees(member=None, provider=Account.of_provider(await repo.provider(payment.provider_id)))
            else:
                payees = Payees(member=Account.of_claim(await repo.claim(payment.claim_id)), provider=None)
        self._copy_account(payment, payees)

    def _copy_account(self, payment: PaymentRow, payees: Payees) -> None:
        """The payee's account onto the payment (``payees`` read under the claim's and provider's locks)."""
        was_held = payment.hold_reason
        for column, value in _payment_account(payment.payee, payees).items():
            setattr(payment, column, value)
        payment.updated_at = self.clock()
        if was_held and payment.hold_reason is None:
            payment.next_attempt_at = self.clock()
            log.info("payment released", payment_id=str(payment.id), was=was_held)

    # --- decisions -----------------------------------------------------------------------------

    async def apply_decision(self, uow: UnitOfWork, event: ClaimAdjudicated) -> None:
        """One decision: pay what the claim is still owed, or record an overpayment; at most once.

        Two statements before the writes (the locks; then the claim's decisions, overpayments, payments
        and payee details in one read), which in a consumer's batch are usually taken for all its claims
        at once (``prepare_batch``); the new rows (decision, payment or overpayment, ledger postings) go in
        just before the unit of work commits, one INSERT per table; earlier payments the decision
        supersedes are marked at once (one UPDATE). Several events may share the unit of work: the read
        sees what earlier ones did for the claim.
        """
        decisions = DecisionRepository(uow.session)
        await decisions.lock_claim(event.claim_id, provider_id=event.provider_id)
        claim = await decisions.context(event.claim_id, event.decision_version, event.provider_id)
        if claim.seen:
            log.info("decision already applied", decision_version=event.decision_version)
            return
        now = self.clock()
        decision: dict[str, Any] = {  # a row of ``decisions``
            "claim_id": event.claim_id,
            "decision_version": event.decision_version,
            "outcome": event.outcome.value,
            "payable": event.payable,
            "currency": event.currency,
            "action": "none",
            "amount": ZERO,
            "recovery_waived": ZERO,
            "recorded_at": now,
        }
        if claim.latest is not None and claim.latest > event.decision_version:
            decision["action"] = "stale"
            decisions.add(decision)
            log.warning("stale decision ignored", decision_version=event.decision_version, latest=claim.latest)
            return
        prior = claim.payments
        book = LedgerRepository(uow.session)
        superseded = {
            old.id for old in prior if old.status in RETRYABLE_BY_OPERATOR and old.superseded_by_version is None
        }
        if superseded:
            await PaymentRepository(uow.session).supersede(list(superseded), event.decision_version, now)
            for old in prior:
                if old.id in superseded:
                    book.record(ledger.superseded(old.amount), claim_id=event.claim_id, payment_id=old.id, at=now)
        committed = committed_amount(
            PriorPayment(p.amount, PaymentStatus(p.status), p.superseded_by_version is not None or p.id in superseded)
            for p in prior
        )
        open_recovery = claim.overpaid - claim.waived
        plan = plan_decision(event.payable, committed, open_recovery)
        if plan.recovery_waived:
            decision["recovery_waived"] = plan.recovery_waived
            book.record(ledger.recovery_waived(plan.recovery_waived), claim_id=event.claim_id, payment_id=None, at=now)
        if plan.pay:
            decision["action"], decision["amount"] = "payment", plan.pay
            self._schedule(uow, event, plan.pay, now, claim.payees)
        elif plan.overpayment:
            decision["action"], decision["amount"] = "overpayment", plan.overpayment
            OverpaymentRepository(uow.session).add(
                {
                    "id": uuid.uuid4(),
                    "claim_id": event.claim_id,
                    "decision_version": event.decision_version,
                    "amount": plan.overpayment,
                    "currency": event.currency,
                    "payee": event.payee.value,
                    "recorded_at": now,
                }
            )
            book.record(ledger.overpayment(plan.overpayment), claim_id=event.claim_id, payment_id=None, at=now)
            uow.publish(
                OverpaymentRecorded(
                    claim_id=event.claim_id,
                    decision_version=event.decision_version,
                    amount=plan.overpayment,
                    currency=event.currency,
                    payee=event.payee,
                ),
                claim_id=event.claim_id,
            )
            log.info("overpayment recorded", decision_version=event.decision_version, amount=str(plan.overpayment))
        decisions.add(decision)

    def _schedule(
        self, uow: UnitOfWork, event: ClaimAdjudicated, amount: Decimal, now: datetime, payees: Payees
    ) -> None:
        """A new payment (identity: claim and decision version, under a unique constraint), written at commit."""
        payment_id = uuid.uuid4()
        account = _payment_account(event.payee.value, payees)
        row = {  # a row of ``payments``
            "id": payment_id,
            "claim_id": event.claim_id,
            "decision_version": event.decision_version,
            "member_id": event.member_id,
            "provider_id": event.provider_id,
            "payee": event.payee.value,
            "currency": event.currency,
            "amount": amount,
            "status": PaymentStatus.SCHEDULED.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_on": now.date(),
            "created_at": now,
            **account,
            "updated_at": self.clock(),  # as an account copied onto a payment sets it
        }
        PaymentRepository(uow.session).add(row)
        LedgerRepository(uow.session).record(
            ledger.approved(amount), claim_id=event.claim_id, payment_id=payment_id, at=now
        )
        self._publish_scheduled(uow, event.claim_id, self._common(row), account["hold_reason"])
        log.info("payment scheduled", payment_id=str(payment_id), amount=str(amount), hold=account["hold_reason"])

    @staticmethod
    def _common(payment: PaymentRow | BankPayment | Mapping[str, Any]) -> dict[str, object]:
        """The fields every payment event has, from a payment (or a new payment's row of values)."""
        values = _COMMON_OF_VALUES(payment) if isinstance(payment, Mapping) else _COMMON_OF_ROW(payment)
        claim_id, id_, decision_version, amount, currency, payee = values
        return {
            "claim_id": claim_id,
            "payment_id": str(id_),
            "decision_version": decision_version,
            "amount": amount,
            "currency": currency,
            "payee": payee,
        }

    @staticmethod
    def _publish_scheduled(uow: UnitOfWork, claim_id: str, common: dict[str, object], hold_reason: str | None) -> None:
        """``common``: the payment's fields every payment event has (``_common``)."""
        uow.publish(PaymentScheduled.model_validate({**common, "hold_reason": hold_reason}), claim_id=claim_id)

    # --- operator ------------------------------------------------------------------------------

    async def retry(self, uow: UnitOfWork, payment_id: uuid.UUID) -> PaymentRow | None:
        """Send a failed or returned payment again (None: no such payment; RetryRefused: not allowed)."""
        payments = PaymentRepository(uow.session)
        payment = await payments.get(payment_id)
        if payment is None:
            return None
        await DecisionRepository(uow.session).lock_claim(payment.claim_id, provider_id=payment.provider_id)
        await uow.session.refresh(payment, with_for_update=True)
        if payment.superseded_by_version is not None:
            raise RetryRefused(
                f"decision {payment.superseded_by_version} of the claim replaced this payment; it is not sent again"
            )
        try:
            transition(PaymentStatus(payment.status), PaymentStatus.SCHEDULED)
        except InvalidTransition as exc:
            raise RetryRefused(f"a {payment.status} payment cannot be retried") from exc
        now = self.clock()
        payment.status = PaymentStatus.SCHEDULED.value
        payment.attempts = 0
        payment.next_attempt_at = now
        payment.last_error = None
        payment.bank_reference = None
        payment.updated_at = now
        await self._resolve_account(uow, payment)
        self._publish_scheduled(uow, payment.claim_id, self._common(payment), payment.hold_reason)
        log.info("payment retried by operator", payment_id=str(payment.id))
        return payment

    # --- bank ----------------------------------------------------------------------------------

    def _move(self, uow: UnitOfWork, payment: BankPayment, target: PaymentStatus, at: datetime) -> None:
        current = PaymentStatus(payment.status)
        transition(current, target)
        movement = ledger.for_transition(current, target, payment.amount)
        if movement is not None:
            LedgerRepository(uow.session).record(movement, claim_id=payment.claim_id, payment_id=payment.id, at=at)
        payment.status = target.value
        payment.updated_at = self.clock()

    def _fail(self, uow: UnitOfWork, payment: BankPayment, reason: str, *, retryable: bool, at: datetime) -> None:
        self._move(uow, payment, PaymentStatus.FAILED, at)
        payment.failed_at = at
        payment.failure_reason = reason[:500]
        payment.retryable = retryable
        uow.publish(
            PaymentFailed.model_validate({**self._common(payment), "reason": reason[:2000], "retryable": retryable}),
            claim_id=payment.claim_id,
        )
        log.warning("payment failed", payment_id=str(payment.id), retryable=retryable)

    async def bank_work(self, conn: AsyncConnection, *, returns: bool = True) -> BankWork:
        """What the bank worker has to do (one statement, no lock, no transaction needed).

        ``returns``: also the settled payments still within the return window, to ask about returns.
        """
        now = self.clock()
        since = now - timedelta(seconds=self.settings.return_window_seconds) if returns else None
        return await bank_worklist(conn, now, since, self.settings.worker_batch_size)

    async def ask_bank(self, bank: Bank, at_bank: Sequence[AtBank]) -> list[BankNews]:
        """Ask the bank about the payments it holds (outside any transaction); the answers that change one."""
        news: list[BankNews] = []
        for p in at_bank:
            answer = await self._status(bank, p.payment_id, p.bank_reference)
            if answer is None:
                continue
            if (p.status == PaymentStatus.SENT and answer.state is not TransferState.PENDING) or (
                p.status == PaymentStatus.SETTLED and answer.state is TransferState.RETURNED
            ):
                news.append(BankNews(p.payment_id, p.bank_reference, answer))
        return news

    @staticmethod
    async def _status(bank: Bank, payment_id: uuid.UUID, reference: str | None) -> TransferStatus | None:
        """The bank's answer about one transfer; None when it cannot say now (asked again next round)."""
        try:
            return await bank.status(reference or "")
        except BankUnavailable:
            return None
        except Exception as exc:  # one bad answer must not hold up the other payments, nor the sending
            log.error("bank status failed", payment_id=str(payment_id), error=describe(exc))
            return None

    async def bank_round(self, uow: UnitOfWork, bank: Bank, *, due: bool, news: Sequence[BankNews]) -> int:
        """One transaction of the bank worker; returns how much happened.

        Applies the bank's news (``ask_bank``) to the payments concerned, and sends the due payments, one
        batch per currency, asking the bank right away about what it took. Every row the round changes is
        locked and read before anything changes (``SKIP LOCKED``: replicas share the work, never send
        one payment twice at once, never apply one answer twice). What the round writes (the batches and
        their items, the payments' changes, the ledger's postings) goes out just before it commits, in
        one statement on PostgreSQL.
        """
        now = self.clock()
        payments = PaymentRepository(uow.session)
        told = await payments.lock_many([n.payment_id for n in news])
        sending = await payments.lock_due(now, self.settings.worker_batch_size) if due else []
        taken = await self._send(uow, bank, sending, now)
        changed = {p.id: p for p in sending}  # each one sent, refused or put off for later
        # As the bank worker always did: sent payments oldest first (those just sent last), then settled ones.
        answers: list[tuple[BankPayment, TransferStatus]] = []
        by_id = {n.payment_id: n for n in news}
        for p in told:
            item = by_id[p.id]
            if p.bank_reference == item.bank_reference:  # else it was sent again since (an operator retry)
                answers.append((p, item.answer))
        settled = [a for a in answers if a[0].status != PaymentStatus.SENT]
        answers = [a for a in answers if a[0].status == PaymentStatus.SENT]
        for p in taken:
            answer = await self._status(bank, p.id, p.bank_reference)
            if answer is not None:
                answers.append((p, answer))
        applied = 0
        for p, answer in [*answers, *settled]:
            if n := self._apply_answer(uow, p, answer, now):
                applied += n
                changed[p.id] = p
        payments.save(changed.values())
        return len(sending) + applied

    async def _send(self, uow: UnitOfWork, bank: Bank, due: Sequence[BankPayment], now: datetime) -> list[BankPayment]:
        """Hand due payments to the bank, one batch per currency; returns those it accepted."""
        groups: dict[str, list[BankPayment]] = defaultdict(list)
        for payment in due:
            groups[payment.currency].append(payment)
        results: list[_Submitted] = []
        for currency, group in groups.items():
            batch_id = uuid.uuid4()
            transfers = [
                CreditTransfer(
                    end_to_end_id=p.id.hex,
                    amount=p.amount,
                    currency=currency,
                    creditor_name=p.creditor_name or "",
                    creditor_account=self.cipher.decrypt(p.account_number_enc or ""),
                    creditor_bank_code=p.bank_code or "",
                    remittance=f"Claim {p.claim_id} decision {p.decision_version}",
                )
                for p in group
            ]
            try:
                answers = await bank.submit(
                    TransferBatch(batch_id.hex, now, transfers, {p.id.hex: p.attempts + 1 for p in group})
                )
            except BankUnavailable as exc:
                results.append((group, transfers, None, exc))
                continue
            created: dict[str, Any] = {
                "id": batch_id,
                "message_id": batch_id.hex,
                "currency": currency,
                "transaction_count": len(transfers),
                "control_sum": sum((t.amount for t in transfers), ZERO),
                "execution_date": now.date(),
                "created_at": now,
            }
            results.append((group, transfers, created, answers))
        handed = [batch for _, _, batch, _ in results if batch is not None]
        if handed:
            # Insert-only rows, frozen as they were sent: the batches, then their items (which refer to
            # them and to the payments).
            items = [
                {
                    "batch_id": batch["id"],
                    "payment_id": p.id,
                    "end_to_end_id": t.end_to_end_id,
                    "amount": t.amount,
                    "currency": batch["currency"],
                    "creditor_name": t.creditor_name,
                    "account_number_enc": p.account_number_enc or "",
                    "account_last4": p.account_last4 or "",
                    "bank_code": t.creditor_bank_code,
                    "remittance": t.remittance,
                }
                for group, transfers, batch, _ in results
                if batch is not None
                for p, t in zip(group, transfers, strict=True)
            ]
            BatchRepository(uow.session).add_with_items(handed, items)
        taken: list[BankPayment] = []
        for group, transfers, batch, outcome in results:
            if isinstance(outcome, BankUnavailable):
                self._unavailable(uow, group, outcome, now)
                continue
            assert batch is not None
            batch_id = batch["id"]
            by_e2e = {p.id.hex: p for p in group}
            for answer in outcome:
                p = by_e2e[answer.end_to_end_id]
                p.attempts += 1
                p.batch_id = batch_id
                if answer.accepted:
                    self._move(uow, p, PaymentStatus.SENT, now)
                    p.sent_at = now
                    p.bank_reference = answer.reference
                    p.last_error = None
                    uow.publish(
                        PaymentSent.model_validate({**self._common(p), "batch_id": str(batch_id)}),
                        claim_id=p.claim_id,
                    )
                    taken.append(p)
                else:
                    self._fail(uow, p, answer.reason or "rejected by the bank", retryable=False, at=now)
            log.info("batch sent", batch_id=str(batch_id), payments=len(transfers))
        return taken

    def _unavailable(self, uow: UnitOfWork, group: Sequence[BankPayment], exc: BankUnavailable, now: datetime) -> None:
        """A transient failure: each payment is tried again later (backoff), or fails after the last attempt."""
        for p in group:
            p.attempts += 1
            p.last_error = str(exc)[:500]
            p.updated_at = now
            if p.attempts >= self.settings.send_max_attempts:
                self._fail(uow, p, f"bank unavailable after {p.attempts} attempts: {exc}", retryable=True, at=now)
            else:
                delay = backoff_seconds(
                    p.attempts, self.settings.send_backoff_seconds, self.settings.send_backoff_max_seconds
                )
                p.next_attempt_at = now + timedelta(seconds=delay)
        log.warning("bank unavailable; batch will be retried", payments=len(group))

    def _apply_answer(self, uow: UnitOfWork, p: BankPayment, answer: TransferStatus, now: datetime) -> int:
        """What the bank said about a payment, applied to it as it is now (locked); how many changes it made."""
        at = answer.at or now
        changed = 0
        if p.status == PaymentStatus.SENT:
            if answer.state is TransferState.PENDING:
                return 0
            if answer.state is TransferState.FAILED:
                self._fail(uow, p, answer.reason or "rejected by the bank", retryable=False, at=at)
                return 1
            self._settle(uow, p, at)
            changed += 1
        if answer.state is TransferState.RETURNED and p.status == PaymentStatus.SETTLED:
            self._move(uow, p, PaymentStatus.RETURNED, at)
            p.returned_at = at
            p.failure_reason = (answer.reason or "returned by the payee's bank")[:500]
            uow.publish(
                PaymentReturned.model_validate({**self._common(p), "reason": p.failure_reason}),
                claim_id=p.claim_id,
            )
            log.warning("payment returned", payment_id=str(p.id))
            changed += 1
        return changed

    def _settle(self, uow: UnitOfWork, p: BankPayment, at: datetime) -> None:
        self._move(uow, p, PaymentStatus.SETTLED, at)
        p.settled_at = at
        uow.publish(PaymentCompleted.model_validate({**self._common(p), "settled_at": at}), claim_id=p.claim_id)
        log.info("payment settled", payment_id=str(p.id))
