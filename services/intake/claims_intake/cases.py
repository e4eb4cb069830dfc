"""The intake use cases: submit, supplement, withdraw, dispute, complain, expire, and the archive's views.

Each runs inside the caller's unit of work; none commits. Validation happens before anything is
written, so bad input leaves no row, no file and no event behind.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from claims_contracts.events.intake import (
    BankAccount,
    ClaimDisputed,
    ClaimDocumentsRequested,
    ClaimExpired,
    ClaimLine,
    ClaimReceived,
    ClaimWithdrawn,
    Diagnosis,
    MemberContact,
    ProviderRef,
)
from claims_intake.api.schemas import (
    ClaimCreate,
    ClaimRead,
    ClaimSubmitted,
    ClaimSummary,
    ComplaintRead,
    DecisionRead,
    DocumentRead,
    Link,
    PaymentRead,
    TimelineEntryRead,
)
from claims_intake.context import IntakeContext
from claims_intake.db.models import ClaimLineRow, ClaimRow, ComplaintRow, DocumentRow, PaymentRow, TimelineRow
from claims_intake.db.repositories import (
    ArchivedClaim,
    ArchivedPayment,
    ArchiveRepository,
    ClaimRepository,
    NewClaimRepository,
)
from claims_intake.domain import amounts, completeness, status
from claims_intake.icd10 import icd10_chapter, icd10_exists
from claims_intake.pii import mask
from claims_intake.sniff import check_document
from claims_platform.auth import Principal
from claims_platform.db import UnitOfWork
from claims_platform.errors import ProblemError

SUBMIT_ROLES = ("partner", "member", "admin")
READ_ROLES = ("admin", "adjuster", "supervisor", "finance", "auditor", "partner", "member")
DOCUMENT_ROLES = ("partner", "member", "admin", "adjuster")
CLAIMANT_ROLES = ("partner", "member", "admin")
ANSWER_ROLES = ("admin", "adjuster", "supervisor")


def new_id(prefix: str) -> str:
    """A new opaque identifier."""
    return f"{prefix}-{uuid.uuid4().hex}"


def invalid(errors: list[dict[str, str]], detail: str = "One or more fields are invalid.") -> ProblemError:
    """A 422 problem listing each bad field."""
    return ProblemError(422, "Validation failed", detail, type_="/problems/validation", errors=errors)


def not_found(claim_id: str) -> ProblemError:
    """The same 404 for a claim that does not exist and for one the caller may not see."""
    return ProblemError(404, "Not found", f"No claim {claim_id} is visible to you.")


def conflict(detail: str, field: str | None = None) -> ProblemError:
    """A 409 problem."""
    errors = [{"field": field, "message": detail}] if field else []
    return ProblemError(409, "Conflict", detail, errors=errors)


# ----------------------------------------------------------------------------------------------------------- access


def may_see(row: ClaimRow, principal: Principal) -> bool:
    """Staff see every claim; a hospital the claims it submitted; a member their own."""
    if principal.is_internal:
        return True
    if principal.has("partner") and row.provider_id == principal.provider_id and row.submitted_by_provider:
        return True
    return principal.has("member") and row.member_id == principal.member_id


async def visible_claim(repo: ClaimRepository, claim_id: str, principal: Principal, *, lock: bool = False) -> ClaimRow:
    """The claim if the caller may see it; 404 otherwise."""
    row = await repo.get(claim_id, lock=lock)
    if row is None or not may_see(row, principal):
        raise not_found(claim_id)
    return row


def check_submitter(body: ClaimCreate, principal: Principal) -> None:
    """A hospital submits only for itself, a member only for themself."""
    if principal.has("admin"):
        return
    if principal.has("partner"):
        if body.provider.provider_id != principal.provider_id:
            raise ProblemError(
                403,
                "Forbidden",
                "A hospital may submit claims only for its own provider_id.",
                errors=[{"field": "provider.provider_id", "message": "is not the provider of your token"}],
            )
        return
    if principal.has("member"):
        if body.member.member_id != principal.member_id:
            raise ProblemError(
                403,
                "Forbidden",
                "A member may submit claims only for themself.",
                errors=[{"field": "member.member_id", "message": "is not the member of your token"}],
            )
        return
    raise ProblemError(403, "Forbidden", f"This needs one of the roles: {', '.join(SUBMIT_ROLES)}.")


# ------------------------------------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class IncomingDocument:
    """A document that passed its checks, ready to store."""

    type: str
    filename: str
    content_type: str
    content: bytes
    source: str


def validate_claim(ctx: IntakeContext, body: ClaimCreate, *, require_identity: bool) -> list[IncomingDocument]:
    """Every cross-field rule and every inline document; 422 listing each bad field, before anything is stored."""
    facts = amounts.ClaimFacts(
        claim_type=body.claim_type.value,
        diagnoses=[(d.code, d.primary) for d in body.diagnoses],
        lines=[
            amounts.LineFacts(
                line_no=line.line_no,
                service_date=line.service_date,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                other_insurance_paid=line.other_insurance_paid,
            )
            for line in body.lines
        ],
        payee=body.payee.value,
        has_bank_account=body.bank_account is not None,
        currency=body.currency,
        admission_date=body.admission_date,
        discharge_date=body.discharge_date,
        accepted_currencies=tuple(ctx.settings.accepted_currencies),
    )
    issues = amounts.check_claim(facts, latest_date=ctx.latest_service_date(), code_exists=icd10_exists)
    errors = [{"field": i.field, "message": i.message} for i in issues]
    if require_identity and body.member.id_number is None:
        errors.append({"field": "member.id_number", "message": "required, with member.id_type"})
    documents: list[IncomingDocument] = []
    for i, doc in enumerate(body.documents):
        try:
            content = base64.b64decode(doc.content_base64, validate=True)
        except (binascii.Error, ValueError):
            errors.append({"field": f"documents[{i}].content_base64", "message": "is not valid base64"})
            continue
        actual, problem = check_document(content, doc.content_type, ctx.settings.document_max_bytes)
        if problem is not None or actual is None:
            errors.append({"field": f"documents[{i}].content_base64", "message": f"the document {problem}"})
            continue
        documents.append(IncomingDocument(doc.type.value, doc.filename, actual, content, "inline"))
    if errors:
        raise invalid(errors)
    return documents


def request_hash(body: ClaimCreate, channel: str) -> str:
    """A hash of the request's meaning (not its whitespace), for idempotency."""
    return hashlib.sha256(f"{channel}\n{body.model_dump_json()}".encode()).hexdigest()


# ------------------------------------------------------------------------------------------------------- submission


def facts_of(row: ClaimRow | ArchivedClaim, payments: list[PaymentRow] | list[ArchivedPayment]) -> status.ClaimFacts:
    """The facts the status is derived from."""
    return status.ClaimFacts(
        lifecycle=row.lifecycle,
        decision_version=row.decision_version,
        outcome=row.outcome,
        pended=row.pended,
        disputed_version=row.disputed_version,
        payments=tuple(status.PaymentFact(p.decision_version, p.status) for p in payments),
    )


def _status_change(
    row: ClaimRow | ArchivedClaim,
    payments: list[PaymentRow] | list[ArchivedPayment],
    *,
    at: datetime,
    actor: str,
    kind: str,
    reason: str | None,
    details: dict[str, Any] | None,
) -> dict[str, Any]:
    """Recompute the claim's status from its facts (``payments`` as they are now); the timeline entry of it."""
    before = row.status
    after = status.derive_status(facts_of(row, payments))
    row.status = after
    row.updated_at = at
    return {
        "claim_id": row.claim_id,
        "at": at,
        "actor": actor,
        "kind": kind,
        "reason": reason,
        "status_from": before or None,
        "status_to": after,
        "details": details or {},
    }


async def record(
    repo: ClaimRepository,
    row: ClaimRow,
    *,
    at: datetime,
    actor: str,
    kind: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    payments: list[PaymentRow] | None = None,
) -> None:
    """Recompute the claim's status and put the change on its timeline.

    ``payments``: the claim's payments when the caller has them (as they are now); otherwise they are read.
    """
    if payments is None:
        payments = await repo.payments(row.claim_id)
    entry = _status_change(row, payments, at=at, actor=actor, kind=kind, reason=reason, details=details)
    repo.add_timeline(entry)


def record_archived(
    repo: ArchiveRepository,
    claim: ArchivedClaim,
    *,
    at: datetime,
    actor: str,
    kind: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """``record`` for a claim the archive consumer holds as plain values (``ArchivedClaim``, its payments as
    they are now): recompute its status and put the change on its timeline, both written at commit."""
    entry = _status_change(claim, claim.payments, at=at, actor=actor, kind=kind, reason=reason, details=details)
    repo.claim_changed(claim)
    repo.add_timeline(entry)


def _stored_claim(body: ClaimCreate) -> dict[str, Any]:
    data = body.model_dump(mode="json", exclude={"documents", "bank_account"})
    member = data["member"]
    member["id_number"] = mask(body.member.id_number) if body.member.id_number else None
    data["bank_account"] = (
        {
            "holder": body.bank_account.holder,
            "account_number": mask(body.bank_account.account_number),
            "bank_code": body.bank_account.bank_code,
        }
        if body.bank_account
        else None
    )
    return data


async def submit_claim(
    uow: UnitOfWork,
    ctx: IntakeContext,
    body: ClaimCreate,
    principal: Principal,
    *,
    idempotency_key: str | None,
    channel: str = "api",
    extra: dict[str, Any] | None = None,
    require_identity: bool = True,
) -> tuple[ClaimSubmitted, bool]:
    """Validate and store a claim; ``(answer, False)`` when the idempotency key replays an earlier one."""
    check_submitter(body, principal)
    documents = validate_claim(ctx, body, require_identity=require_identity)
    repo = NewClaimRepository(uow.session)
    now = ctx.now()
    claim_id = new_id("CLM")
    # A new claim's documents are the ones in hand: what is missing, and so the answer, is known now.
    missing = completeness.missing_documents(body.claim_type.value, [d.type for d in documents])
    answer = ClaimSubmitted(
        claim_id=claim_id,
        status="received" if not missing else "pending_documents",
        missing_documents=missing,
        links=claim_links(claim_id),
    )
    idempotency: dict[str, Any] | None = None
    if idempotency_key is not None:
        idempotency = {
            "client": principal.sub,
            "key": idempotency_key,
            "request_hash": request_hash(body, channel),
            "claim_id": claim_id,
            "response": answer.model_dump(mode="json"),
            "created_at": now,
        }
    data = _stored_claim(body)
    data.update(extra or {})
    sensitive = {
        "id_number": body.member.id_number,
        "bank_account": body.bank_account.model_dump() if body.bank_account else None,
    }
    by_provider = principal.has("partner") and not principal.has("admin")
    primary = next(d.code for d in body.diagnoses if d.primary)
    row = ClaimRow(
        claim_id=claim_id,
        status="",
        lifecycle=status.RECEIVED,
        claim_type=body.claim_type.value,
        policy_number=body.policy_number,
        member_id=body.member.member_id,
        provider_id=body.provider.provider_id,
        submitted_by=principal.sub,
        submitted_by_provider=by_provider,
        channel=channel,
        submitted_at=now,
        updated_at=now,
        currency=body.currency,
        payee=body.payee.value,
        charged=sum((line.amount for line in body.lines), Decimal("0.00")),
        data=data,
        sensitive=ctx.vault.seal(sensitive),
        missing_documents=[],
        deciders=[],
        pended=False,
        primary_diagnosis=primary,
        icd10_chapter=icd10_chapter(primary),
    )
    # The rows are kept by the repository, never flushed by the session: ``write`` sends them all at the
    # end (on PostgreSQL, in one statement).
    repo.add(row)
    for line in body.lines:
        repo.add_values(
            ClaimLineRow,
            {"claim_id": claim_id, "line_no": line.line_no, "category": line.category.value, "charged": line.amount},
        )
    no_payments: list[PaymentRow] = []  # a new claim has none
    await record(
        repo,
        row,
        at=now,
        actor=principal.sub,
        kind="submitted",
        reason=f"submitted through {channel}",
        payments=no_payments,
    )
    stored = _document_rows(claim_id, documents, principal.sub, now)
    for values in stored:
        repo.add_values(DocumentRow, values)
    to_store = _keep_contents(repo, ctx, stored, documents)
    event = await _review_completeness(
        repo,
        ctx,
        row,
        actor=principal.sub,
        now=now,
        first=True,
        present=[values["type"] for values in stored],
        payments=no_payments,
    )
    assert row.missing_documents == missing, "the answer was given before the review"
    # The idempotency key is taken with the rows (in one statement on PostgreSQL): nothing is written, stored
    # or published for a key taken before.
    if not await repo.write(idempotency):
        assert idempotency is not None, "only a key taken before stops the write"
        existing = await repo.for_key(principal.sub, idempotency["key"])
        if existing is None or existing.request_hash != idempotency["request_hash"] or existing.response is None:
            raise conflict("This Idempotency-Key was used with another request body.", "Idempotency-Key")
        return ClaimSubmitted.model_validate(existing.response), False
    await _store_documents(ctx, to_store)
    if event is not None:
        uow.publish(event, claim_id=claim_id)
    return answer, True


def claim_links(claim_id: str) -> dict[str, Link]:
    """Where to go from a claim."""
    base = f"/v1/claims/{claim_id}"
    return {
        "self": Link(href=base),
        "timeline": Link(href=f"{base}/timeline"),
        "documents": Link(href=f"{base}/documents", method="POST"),
        "withdraw": Link(href=f"{base}/withdraw", method="POST"),
        "disputes": Link(href=f"{base}/disputes", method="POST"),
        "complaints": Link(href=f"{base}/complaints", method="POST"),
    }


def _document_rows(claim_id: str, docs: list[IncomingDocument], actor: str, now: datetime) -> list[dict[str, Any]]:
    """The documents' metadata, as the values of ``DocumentRow``'s columns, for the caller to add."""
    metas: list[dict[str, Any]] = []
    for doc in docs:
        document_id = new_id("DOC")
        metas.append(
            {
                "document_id": document_id,
                "claim_id": claim_id,
                "type": doc.type,
                "filename": doc.filename,
                "content_type": doc.content_type,
                "size_bytes": len(doc.content),
                "sha256": hashlib.sha256(doc.content).hexdigest(),
                "storage_key": f"{claim_id}/{document_id}",
                "source": doc.source,
                "uploaded_by": actor,
                "uploaded_at": now,
            }
        )
    return metas


def _keep_contents(
    repo: ClaimRepository, ctx: IntakeContext, rows: list[dict[str, Any]], docs: list[IncomingDocument]
) -> list[tuple[str, bytes]]:
    """Where the contents of the documents ``rows`` describe (``_document_rows``) go. One of at most
    ``inline_document_max_bytes`` is kept in the database with the claim's rows, in their transaction (one
    commit for the claim and its documents instead of a fsynced file each); the others are returned as
    ``(storage_key, content)``, for ``_store_documents``."""
    limit = ctx.settings.inline_document_max_bytes
    to_store: list[tuple[str, bytes]] = []
    for row, doc in zip(rows, docs, strict=True):
        if len(doc.content) <= limit:
            repo.add_content(row["document_id"], doc.content)
        else:
            to_store.append((row["storage_key"], doc.content))
    return to_store


async def _store_documents(ctx: IntakeContext, items: list[tuple[str, bytes]]) -> None:
    """Write ``(storage_key, content)`` items (``_keep_contents``) to the document store: all durable when this
    returns, in one hand-off to a worker thread; none (and no hand-off) when there are no items."""
    if items:
        await ctx.store.put_many(items)


async def _review_completeness(
    repo: ClaimRepository,
    ctx: IntakeContext,
    row: ClaimRow,
    *,
    actor: str,
    now: datetime,
    first: bool,
    present: list[str] | None = None,
    payments: list[PaymentRow] | None = None,
) -> ClaimReceived | ClaimDocumentsRequested | None:
    """The checklist: complete → ClaimReceived and review; otherwise ask for exactly what is missing. The event
    to publish (None when nothing changed): the caller publishes it.

    ``present``: the types of all the claim's documents when the caller knows them; otherwise they are read.
    ``payments``: as for ``record``.
    """
    if present is None:
        present = [d.type for d in await repo.documents(row.claim_id)]
    missing = completeness.missing_documents(row.claim_type, present)
    previous = list(row.missing_documents)
    row.missing_documents = missing
    if not missing:
        row.lifecycle = status.IN_REVIEW
        row.documents_deadline = None
        row.received_at = now
        received = received_event(ctx, row)
        await record(
            repo,
            row,
            at=now,
            actor=actor,
            kind="documents_complete",
            reason="all required documents",
            payments=payments,
        )
        return received
    if first or missing != previous:
        row.lifecycle = status.PENDING_DOCUMENTS
        deadline = completeness.documents_deadline(now.date(), ctx.settings.documents_deadline_days)
        row.documents_deadline = deadline
        data = row.data
        requested = ClaimDocumentsRequested(
            claim_id=row.claim_id,
            claim_type=row.claim_type,
            missing_documents=missing,
            member=_member_contact(data),
            provider=ProviderRef(**data["provider"]),
            submitted_by_provider=row.submitted_by_provider,
            deadline=deadline,
        )
        await record(
            repo,
            row,
            at=now,
            actor=actor,
            kind="documents_requested",
            reason="missing: " + ", ".join(missing),
            details={"missing_documents": missing, "deadline": deadline.isoformat()},
            payments=payments,
        )
        return requested
    return None


def _member_contact(data: dict[str, Any]) -> MemberContact:
    member = data["member"]
    return MemberContact(
        member_id=member["member_id"],
        name=member["name"],
        phone=member.get("phone"),
        email=member.get("email"),
        locale=member.get("locale") or "zh-CN",
    )


def received_event(ctx: IntakeContext, row: ClaimRow) -> ClaimReceived:
    """The claim, complete, for adjudication and payment (with the bank account, never the ID number)."""
    data = row.data
    secret = ctx.vault.open(row.sensitive)
    bank = secret.get("bank_account")
    return ClaimReceived(
        claim_id=row.claim_id,
        submitted_at=row.submitted_at,
        policy_number=row.policy_number,
        member=_member_contact(data),
        provider=ProviderRef(**data["provider"]),
        submitted_by_provider=row.submitted_by_provider,
        claim_type=row.claim_type,
        accident=bool(data.get("accident")),
        admission_date=data.get("admission_date"),
        discharge_date=data.get("discharge_date"),
        diagnoses=[Diagnosis(**d) for d in data["diagnoses"]],
        lines=[ClaimLine(**line) for line in data["lines"]],
        currency=row.currency,
        payee=row.payee,
        bank_account=BankAccount(**bank) if bank else None,
        charged=row.charged,
    )


# ------------------------------------------------------------------------------------------------------- supplements


async def add_document(
    uow: UnitOfWork,
    ctx: IntakeContext,
    claim_id: str,
    principal: Principal,
    *,
    doc_type: str,
    filename: str,
    declared: str | None,
    content: bytes,
) -> tuple[ClaimRow, DocumentRow]:
    """A supplement: check it, store it, re-run the completeness review."""
    actual, problem = check_document(content, declared, ctx.settings.document_max_bytes)
    repo = ClaimRepository(uow.session)
    row = await visible_claim(repo, claim_id, principal, lock=True)
    if problem is not None or actual is None:
        raise invalid([{"field": "file", "message": f"the document {problem}"}])
    if row.lifecycle in status.CLOSED_EARLY:
        raise conflict(f"The claim is {row.lifecycle}; it takes no more documents.")
    now = ctx.now()
    payments = await repo.payments(claim_id)
    reviewing = row.lifecycle == status.PENDING_DOCUMENTS
    stored_before = [d.type for d in await repo.documents(claim_id)] if reviewing else []
    incoming = [IncomingDocument(doc_type, filename, actual, content, "upload")]
    (values,) = _document_rows(claim_id, incoming, principal.sub, now)
    doc = DocumentRow(**values)
    repo.add(doc)
    await _store_documents(ctx, _keep_contents(repo, ctx, [values], incoming))
    await record(
        repo,
        row,
        at=now,
        actor=principal.sub,
        kind="document_added",
        reason=doc_type,
        details={"document_id": doc.document_id, "type": doc_type, "filename": filename},
        payments=payments,
    )
    if reviewing:
        event = await _review_completeness(
            repo,
            ctx,
            row,
            actor=principal.sub,
            now=now,
            first=False,
            present=[*stored_before, doc.type],
            payments=payments,
        )
        if event is not None:
            uow.publish(event, claim_id=claim_id)
    return row, doc


# --------------------------------------------------------------------------------------------- withdraw and dispute


async def withdraw(uow: UnitOfWork, ctx: IntakeContext, claim_id: str, principal: Principal, reason: str) -> ClaimRow:
    """End a claim before it is decided."""
    repo = ClaimRepository(uow.session)
    row = await visible_claim(repo, claim_id, principal, lock=True)
    payments = await repo.payments(claim_id)
    why_not = status.can_withdraw(facts_of(row, payments))
    if why_not:
        raise conflict(f"The claim cannot be withdrawn: {why_not}.")
    now = ctx.now()
    row.lifecycle = status.WITHDRAWN
    row.documents_deadline = None
    uow.publish(ClaimWithdrawn(claim_id=claim_id, reason=reason, withdrawn_by=principal.sub), claim_id=claim_id)
    await record(repo, row, at=now, actor=principal.sub, kind="withdrawn", reason=reason, payments=payments)
    return row


async def dispute(uow: UnitOfWork, ctx: IntakeContext, claim_id: str, principal: Principal, reason: str) -> ClaimRow:
    """Contest the latest decision; a different reviewer re-decides."""
    repo = ClaimRepository(uow.session)
    row = await visible_claim(repo, claim_id, principal, lock=True)
    payments = await repo.payments(claim_id)
    why_not = status.can_dispute(facts_of(row, payments))
    if why_not or row.decision_version is None:
        raise conflict(f"The claim cannot be disputed: {why_not}.")
    now = ctx.now()
    version = row.decision_version
    row.disputed_version = version
    row.pended = False
    uow.publish(
        ClaimDisputed(
            claim_id=claim_id,
            disputed_decision_version=version,
            reason=reason,
            disputed_by=principal.sub,
            previous_deciders=list(dict.fromkeys(row.deciders)),
        ),
        claim_id=claim_id,
    )
    await record(
        repo,
        row,
        at=now,
        actor=principal.sub,
        kind="disputed",
        reason=reason,
        details={"decision_version": version},
        payments=payments,
    )
    return row


# -------------------------------------------------------------------------------------------------------- complaints


async def complain(
    uow: UnitOfWork, ctx: IntakeContext, claim_id: str, principal: Principal, message: str
) -> ComplaintRow:
    """Record a complaint about the service on the claim's timeline."""
    repo = ClaimRepository(uow.session)
    row = await visible_claim(repo, claim_id, principal, lock=True)
    now = ctx.now()
    complaint = ComplaintRow(
        complaint_id=new_id("CMP"), claim_id=claim_id, message=message, raised_by=principal.sub, raised_at=now
    )
    repo.add(complaint)
    await record(
        repo,
        row,
        at=now,
        actor=principal.sub,
        kind="complaint",
        reason=message,
        details={"complaint_id": complaint.complaint_id},
    )
    return complaint


async def answer_complaint(
    uow: UnitOfWork, ctx: IntakeContext, claim_id: str, complaint_id: str, principal: Principal, answer: str
) -> ComplaintRow:
    """Record staff's answer to a complaint."""
    repo = ClaimRepository(uow.session)
    row = await visible_claim(repo, claim_id, principal, lock=True)
    complaint = await repo.complaint(claim_id, complaint_id, lock=True)
    if complaint is None:
        raise ProblemError(404, "Not found", f"No complaint {complaint_id} on claim {claim_id}.")
    if complaint.answer is not None:
        raise conflict("The complaint is already answered.")
    now = ctx.now()
    complaint.answer, complaint.answered_by, complaint.answered_at = answer, principal.sub, now
    await record(
        repo,
        row,
        at=now,
        actor=principal.sub,
        kind="complaint_answered",
        reason=answer,
        details={"complaint_id": complaint_id},
    )
    return complaint


# ------------------------------------------------------------------------------------------------------------ expiry


async def expire_overdue(ctx: IntakeContext, db: Any, batch: int = 100) -> list[str]:
    """Close every claim whose requested documents did not arrive by the deadline; one transaction per batch."""
    expired: list[str] = []
    while True:
        async with db.uow() as uow:
            repo = ClaimRepository(uow.session)
            rows = await repo.overdue(ctx.today(), limit=batch)
            now = ctx.now()
            for row in rows:
                if not completeness.is_overdue(row.documents_deadline or date.max, now.date()):
                    continue
                reason = f"required documents not received by {row.documents_deadline}"
                row.lifecycle = status.EXPIRED
                uow.publish(
                    ClaimExpired(
                        claim_id=row.claim_id,
                        missing_documents=row.missing_documents,
                        reason=reason,
                    ),
                    claim_id=row.claim_id,
                )
                await record(repo, row, at=now, actor="intake", kind="expired", reason=reason)
                row.documents_deadline = None
                expired.append(row.claim_id)
        if len(rows) < batch:
            return expired


# ------------------------------------------------------------------------------------------------------------- views


def _decision_read(decision: dict[str, Any] | None) -> DecisionRead | None:
    return DecisionRead.model_validate(decision) if decision else None


def document_read(doc: DocumentRow) -> DocumentRead:
    """A document's metadata."""
    return DocumentRead(
        document_id=doc.document_id,
        type=doc.type,
        filename=doc.filename,
        content_type=doc.content_type,
        size_bytes=doc.size_bytes,
        sha256=doc.sha256,
        uploaded_at=doc.uploaded_at,
        source=doc.source,
    )


async def claim_read(repo: ClaimRepository, row: ClaimRow) -> ClaimRead:
    """The claim as submitted and where it stands."""
    data = row.data
    documents = await repo.documents(row.claim_id)
    payments = await repo.payments(row.claim_id)
    return ClaimRead(
        claim_id=row.claim_id,
        status=row.status,
        missing_documents=row.missing_documents,
        documents_deadline=row.documents_deadline,
        submitted_at=row.submitted_at,
        submitted_by_provider=row.submitted_by_provider,
        policy_number=row.policy_number,
        member=data["member"],
        provider=data["provider"],
        claim_type=row.claim_type,
        accident=bool(data.get("accident")),
        admission_date=data.get("admission_date"),
        discharge_date=data.get("discharge_date"),
        diagnoses=data["diagnoses"],
        lines=data["lines"],
        currency=row.currency,
        payee=row.payee,
        bank_account=data.get("bank_account"),
        charged=row.charged,
        documents=[document_read(d) for d in documents],
        decision=_decision_read(row.decision),
        payments=[
            PaymentRead(
                payment_id=p.payment_id,
                amount=p.amount,
                payee=p.payee,
                status=p.status,
                decision_version=p.decision_version,
                currency=p.currency,
            )
            for p in payments
        ],
    )


def claim_summary(row: ClaimRow) -> ClaimSummary:
    """A claim in a search result."""
    return ClaimSummary(
        claim_id=row.claim_id,
        status=row.status,
        claim_type=row.claim_type,
        policy_number=row.policy_number,
        member_id=row.member_id,
        provider_id=row.provider_id,
        submitted_at=row.submitted_at,
        charged=row.charged,
        currency=row.currency,
        missing_documents=row.missing_documents,
    )


def timeline_read(entry: TimelineRow) -> TimelineEntryRead:
    """A timeline entry."""
    return TimelineEntryRead(
        at=entry.at,
        actor=entry.actor,
        kind=entry.kind,
        reason=entry.reason,
        status_from=entry.status_from,
        status_to=entry.status_to,
        details=entry.details,
    )


def complaint_read(c: ComplaintRow) -> ComplaintRead:
    """A complaint."""
    return ComplaintRead(
        complaint_id=c.complaint_id,
        claim_id=c.claim_id,
        message=c.message,
        raised_by=c.raised_by,
        raised_at=c.raised_at,
        answer=c.answer,
        answered_by=c.answered_by,
        answered_at=c.answered_at,
    )
