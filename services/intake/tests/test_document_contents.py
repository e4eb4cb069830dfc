"""Where documents' contents are kept: a small one in the database with the claim's rows (``document_contents``,
in their transaction), a larger one in the document store (a file under ``storage_key``), on PostgreSQL and
on SQLite, on submission and on supplement; a replayed or conflicting Idempotency-Key keeps neither."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from claims_intake.app import create_app
from claims_intake.config import IntakeSettings
from claims_platform.bus.memory import InMemoryBus
from claims_platform.testing import bearer, serve

LIMIT = IntakeSettings.model_fields["inline_document_max_bytes"].default


def pdf(size: int) -> bytes:
    """A document of exactly ``size`` bytes that is sniffed as a PDF."""
    head = b"%PDF-1.4\n"
    return head + b"0" * (size - len(head))


async def kept(db_url: str, documents_dir: Path, claim_id: str) -> dict[str, tuple[str, bytes]]:
    """Each document of a claim, by type: where its content is, ``"database"`` (its ``document_contents`` row)
    or ``"store"`` (the file under its ``storage_key``, which has its usual value either way), and the content,
    checked against the size and sha256 of the document's row. A content in both places fails."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT d.document_id, d.type, d.storage_key, d.size_bytes, d.sha256, c.content"
                        " FROM documents d LEFT JOIN document_contents c ON c.document_id = d.document_id"
                        " WHERE d.claim_id = :c"
                    ),
                    {"c": claim_id},
                )
            ).all()
    finally:
        await engine.dispose()
    found: dict[str, tuple[str, bytes]] = {}
    for document_id, doc_type, key, size, sha256, content in rows:
        assert key == f"{claim_id}/{document_id}"
        file = documents_dir / key
        if content is not None:
            assert not file.exists(), f"{doc_type} is in both places"
            found[doc_type] = ("database", bytes(content))
        else:
            found[doc_type] = ("store", file.read_bytes())
        assert len(found[doc_type][1]) == size
        assert hashlib.sha256(found[doc_type][1]).hexdigest() == sha256
    assert len(found) == len(rows), "one document per type in these tests"
    return found


def listing(folder: Path) -> set[str]:
    """Every file and folder under ``folder``."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


# ------------------------------------------------------------------------------------------------ PostgreSQL


async def test_a_complete_claims_small_documents_are_kept_with_its_rows(intake, kit):
    body = kit.make_claim(docs=kit.ALL_OUTPATIENT_DOCS)
    body["documents"][1] = kit.inline("id_proof", kit.JPEG, "image/jpeg")
    resp = await intake.client.post(
        "/v1/claims", json=body, headers={**intake.partner(), "Idempotency-Key": kit.unique()}
    )
    assert resp.status_code == 201, resp.text
    claim_id = resp.json()["claim_id"]
    where = await kept(intake.db_url, intake.data_dir / "documents", claim_id)
    assert where == {
        "claim_form": ("database", kit.PDF),
        "id_proof": ("database", kit.JPEG),
        "itemized_bill": ("database", kit.PDF),
        "invoice": ("database", kit.PDF),
        "medical_record": ("database", kit.PDF),
    }
    assert not (intake.data_dir / "documents" / claim_id).exists()
    got = (await intake.client.get(f"/v1/claims/{claim_id}", headers=intake.partner())).json()
    assert {d["type"]: d["size_bytes"] for d in got["documents"]}["id_proof"] == len(kit.JPEG)


async def test_a_document_over_the_limit_goes_to_the_store(intake, kit):
    big, edge = pdf(LIMIT + 1), pdf(LIMIT)
    body = kit.make_claim(docs=kit.ALL_OUTPATIENT_DOCS)
    body["documents"][0] = kit.inline("claim_form", big)
    body["documents"][2] = kit.inline("itemized_bill", edge)
    resp = await intake.client.post(
        "/v1/claims", json=body, headers={**intake.partner(), "Idempotency-Key": kit.unique()}
    )
    assert resp.status_code == 201, resp.text
    claim_id = resp.json()["claim_id"]
    where = await kept(intake.db_url, intake.data_dir / "documents", claim_id)
    assert where.pop("claim_form") == ("store", big)
    assert where.pop("itemized_bill") == ("database", edge)
    assert set(where.values()) == {("database", kit.PDF)}
    assert len(listing(intake.data_dir / "documents" / claim_id)) == 1  # the large one's file alone


async def test_a_replayed_or_conflicting_key_keeps_no_content(intake, kit):
    body = kit.make_claim(docs=kit.ALL_OUTPATIENT_DOCS)
    body["documents"][0] = kit.inline("claim_form", pdf(LIMIT + 1))
    headers = {**intake.partner(), "Idempotency-Key": kit.unique("k-")}
    first = await intake.client.post("/v1/claims", json=body, headers=headers)
    assert first.status_code == 201, first.text
    documents = intake.data_dir / "documents"
    contents = "SELECT count(*) FROM document_contents"
    before = (await intake.sql(contents))[0][0], listing(documents)

    again = await intake.client.post("/v1/claims", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    clash = await intake.client.post("/v1/claims", json=dict(body, accident=True), headers=headers)
    assert clash.status_code == 409
    assert ((await intake.sql(contents))[0][0], listing(documents)) == before
    claims = await intake.sql("SELECT claim_id FROM claims WHERE member_id = :m", m=body["member"]["member_id"])
    assert [c[0] for c in claims] == [first.json()["claim_id"]]


async def test_a_supplement_is_kept_by_the_same_rule(intake, kit):
    body = kit.make_claim()
    resp = await intake.client.post("/v1/claims", json=body, headers=intake.partner())
    claim_id = resp.json()["claim_id"]
    big = pdf(LIMIT + 1)
    for doc_type, content, ctype in (("id_proof", kit.PNG, "image/png"), ("invoice", big, "application/pdf")):
        up = await intake.supply(claim_id, doc_type, content, ctype)
        assert up.status_code == 201, up.text
    where = await kept(intake.db_url, intake.data_dir / "documents", claim_id)
    assert where == {
        "claim_form": ("database", kit.PDF),
        "id_proof": ("database", kit.PNG),
        "invoice": ("store", big),
    }
    assert len(listing(intake.data_dir / "documents" / claim_id)) == 1


# ---------------------------------------------------------------------------------------------------- SQLite


async def test_sqlite_keeps_documents_by_the_same_rule(tmp_path, jwt_secret, kit):
    """Embedded mode, with the limit set to 1 KiB, then to 0 (every document in the store)."""
    admin = bearer(jwt_secret, "admin", sub="admin-1")
    for limit in (1024, 0):
        data_dir = tmp_path / str(limit)
        settings = IntakeSettings(
            environment="development",
            data_dir=data_dir,
            jwt_secret=jwt_secret,
            expiry_job_enabled=False,
            inline_document_max_bytes=limit,
        )
        documents = settings.effective_documents_dir
        db_url = settings.effective_database_url
        bus = InMemoryBus()
        async with serve(create_app(settings, bus=bus)) as client:
            await bus.start()
            try:
                body = kit.make_claim(docs=["claim_form", "id_proof", "itemized_bill"])
                body["documents"][1] = kit.inline("id_proof", pdf(1024))
                body["documents"][2] = kit.inline("itemized_bill", pdf(1025))
                headers = {**admin, "Idempotency-Key": kit.unique()}
                resp = await client.post("/v1/claims", json=body, headers=headers)
                assert resp.status_code == 201, resp.text
                claim_id = resp.json()["claim_id"]
                replay = await client.post("/v1/claims", json=body, headers=headers)
                assert replay.status_code == 201
                assert replay.headers["idempotent-replayed"] == "true"
                clash = await client.post("/v1/claims", json=dict(body, accident=True), headers=headers)
                assert clash.status_code == 409
                for doc_type, content in (("invoice", kit.JPEG), ("medical_record", pdf(2048))):
                    up = await client.post(
                        f"/v1/claims/{claim_id}/documents",
                        data={"type": doc_type},
                        files={"file": (f"{doc_type}.bin", content, None)},
                        headers=admin,
                    )
                    assert up.status_code == 201, up.text
                where = await kept(db_url, documents, claim_id)
            finally:
                await bus.stop()
        expected = {
            "claim_form": kit.PDF,
            "id_proof": pdf(1024),
            "itemized_bill": pdf(1025),
            "invoice": kit.JPEG,
            "medical_record": pdf(2048),
        }
        in_store = {"itemized_bill", "medical_record"} if limit else set(expected)
        assert where == {t: ("store" if t in in_store else "database", c) for t, c in expected.items()}
        # nothing from the replay or the conflict: the claim's folder only, with the stored documents' files
        assert os.listdir(documents) == [claim_id]
        assert len(os.listdir(documents / claim_id)) == len(in_store)
