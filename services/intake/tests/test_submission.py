"""Submission, completeness, supplements, idempotency and access through HTTP, on real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio

from claims_contracts.events import ClaimDocumentsRequested, ClaimReceived


async def test_complete_claim_is_received_and_published_without_the_id_number(intake, claim, kit):
    body = claim(docs=kit.ALL_OUTPATIENT_DOCS)
    resp = await intake.client.post(
        "/v1/claims", json=body, headers={**intake.partner(), "Idempotency-Key": kit.unique("k-")}
    )
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    assert answer["status"] == "received"
    assert answer["missing_documents"] == []
    claim_id = answer["claim_id"]
    assert answer["links"]["self"]["href"] == f"/v1/claims/{claim_id}"
    assert resp.headers["location"] == f"/v1/claims/{claim_id}"

    events = await intake.published(claim_id, expect=1)
    assert [e.event_type for e in events] == ["ClaimReceived"]
    received = ClaimReceived.model_validate(events[0].payload)
    assert received.bank_account is not None
    assert received.bank_account.account_number == "6222020200001234567"
    assert str(received.charged) == "1100.00"
    assert received.submitted_by_provider is True
    assert "110101199003071234" not in events[0].model_dump_json()

    got = (await intake.client.get(f"/v1/claims/{claim_id}", headers=intake.partner())).json()
    assert got["status"] == "in_review"
    assert got["member"]["id_number"] == "**************1234"
    assert got["bank_account"]["account_number"] == "***************4567"
    assert len(got["documents"]) == 5
    assert all("content_base64" not in d and d["content_type"] == "application/pdf" for d in got["documents"])
    assert [line["amount"] for line in got["lines"]] == ["200.00", "600.00", "300.00"]
    assert got["decision"] is None
    assert got["payments"] == []
    stored = await intake.sql("SELECT sensitive, data::text FROM claims WHERE claim_id = :c", c=claim_id)
    assert "110101199003071234" not in stored[0][0]
    assert "110101199003071234" not in stored[0][1]
    assert "6222020200001234567" not in stored[0][0]
    assert "6222020200001234567" not in stored[0][1]


async def test_incomplete_claim_waits_for_exactly_the_missing_documents_until_supplied(intake, claim, kit):
    body = claim()
    resp = await intake.client.post("/v1/claims", json=body, headers=intake.partner())
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    claim_id = answer["claim_id"]
    assert answer["status"] == "pending_documents"
    assert answer["missing_documents"] == ["id_proof", "itemized_bill", "invoice", "medical_record"]

    events = await intake.published(claim_id, expect=1)
    requested = ClaimDocumentsRequested.model_validate(events[0].payload)
    assert [d.value for d in requested.missing_documents] == ["id_proof", "itemized_bill", "invoice", "medical_record"]
    assert (requested.deadline - kit.today()).days == 30

    supplements = [("id_proof", kit.JPEG, "image/jpeg"), ("itemized_bill", kit.PNG, "image/png")]
    for doc_type, content, ctype in supplements:
        up = await intake.supply(claim_id, doc_type, content, ctype)
        assert up.status_code == 201, up.text
    assert up.json()["status"] == "pending_documents"
    assert up.json()["missing_documents"] == ["invoice", "medical_record"]
    assert up.json()["document"]["content_type"] == "image/png"

    # A TIFF declared as octet-stream is sniffed for what it is.
    up = await intake.client.post(
        f"/v1/claims/{claim_id}/documents",
        data={"type": "invoice"},
        files={"file": ("invoice.tif", kit.TIFF, "application/octet-stream")},
        headers=intake.partner(),
    )
    assert up.json()["document"]["content_type"] == "image/tiff"
    up = await intake.client.post(
        f"/v1/claims/{claim_id}/documents",
        data={"type": "medical_record"},
        files={"file": ("record.pdf", kit.PDF, "application/pdf")},
        headers=intake.partner(),
    )
    assert up.status_code == 201
    assert up.json()["status"] == "in_review"
    assert up.json()["missing_documents"] == []

    events = await intake.published(claim_id, expect=5)
    assert [e.event_type for e in events] == [
        "ClaimDocumentsRequested",
        "ClaimDocumentsRequested",
        "ClaimDocumentsRequested",
        "ClaimDocumentsRequested",
        "ClaimReceived",
    ]
    assert events[1].payload["missing_documents"] == ["itemized_bill", "invoice", "medical_record"]
    assert events[3].payload["missing_documents"] == ["medical_record"]

    timeline = (await intake.client.get(f"/v1/claims/{claim_id}/timeline", headers=intake.partner())).json()
    kinds = [(e["kind"], e["status_to"]) for e in timeline["items"]]
    assert kinds[0] == ("submitted", "received")
    assert kinds[1] == ("documents_requested", "pending_documents")
    assert kinds[-1] == ("documents_complete", "in_review")
    assert all(e["actor"] and e["at"] for e in timeline["items"])
    # the five documents, small, are kept with the claim's rows: no file
    stored = await intake.sql(
        "SELECT count(*) FROM documents d JOIN document_contents c USING (document_id) WHERE d.claim_id = :c",
        c=claim_id,
    )
    assert stored[0][0] == 5
    assert not (intake.data_dir / "documents" / claim_id).exists()


async def test_inpatient_and_pharmacy_checklists(intake, claim, kit):
    inpatient = claim(claim_type="inpatient", admission_date="2026-03-08", discharge_date="2026-03-10")
    resp = await intake.client.post("/v1/claims", json=inpatient, headers=intake.partner())
    assert resp.status_code == 201, resp.text
    assert resp.json()["missing_documents"] == [
        "id_proof",
        "itemized_bill",
        "invoice",
        "medical_record",
        "discharge_summary",
    ]
    pharmacy = claim(claim_type="pharmacy", docs=["claim_form", "id_proof", "itemized_bill", "invoice"])
    resp = await intake.client.post("/v1/claims", json=pharmacy, headers=intake.partner())
    assert resp.json()["missing_documents"] == ["prescription"]


async def test_same_key_same_body_returns_the_same_claim_and_another_body_is_a_conflict(intake, claim, kit):
    body = claim(docs=kit.ALL_OUTPATIENT_DOCS)
    key = kit.unique("idem-")
    headers = {**intake.partner(), "Idempotency-Key": key}
    first = await intake.client.post("/v1/claims", json=body, headers=headers)
    # the same body with other whitespace is the same request
    again = await intake.client.post(
        "/v1/claims",
        content=kit.dumps(body).replace(", ", ",  "),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"

    other = dict(body, accident=True)
    clash = await intake.client.post("/v1/claims", json=other, headers=headers)
    assert clash.status_code == 409
    assert clash.headers["content-type"].startswith("application/problem+json")
    assert clash.json()["errors"][0]["field"] == "Idempotency-Key"

    found = await intake.client.get(
        "/v1/claims", params={"member_id": body["member"]["member_id"]}, headers=intake.admin()
    )
    assert [c["claim_id"] for c in found.json()["items"]] == [first.json()["claim_id"]]
    events = await intake.published(first.json()["claim_id"], expect=1)
    assert len(events) == 1


async def test_concurrent_retries_with_one_key_make_one_claim(intake, claim, kit):
    body = claim(docs=kit.ALL_OUTPATIENT_DOCS)
    headers = {**intake.partner(), "Idempotency-Key": kit.unique("race-")}
    answers = await asyncio.gather(*(intake.client.post("/v1/claims", json=body, headers=headers) for _ in range(6)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["claim_id"] for a in answers}) == 1
    rows = await intake.sql("SELECT count(*) FROM claims WHERE member_id = :m", m=body["member"]["member_id"])
    assert rows[0][0] == 1
    contents = await intake.sql(
        "SELECT count(*) FROM document_contents c JOIN documents d USING (document_id)"
        " JOIN claims USING (claim_id) WHERE member_id = :m",
        m=body["member"]["member_id"],
    )
    assert contents[0][0] == 5


async def test_partner_submits_and_sees_only_its_own_hospital(intake, claim, kit):
    mine = claim(provider_id="H-777")
    resp = await intake.client.post("/v1/claims", json=mine, headers=intake.partner("H-001"))
    assert resp.status_code == 403
    assert resp.json()["errors"][0]["field"] == "provider.provider_id"

    ok = await intake.client.post("/v1/claims", json=mine, headers=intake.partner("H-777"))
    assert ok.status_code == 201
    claim_id = ok.json()["claim_id"]
    assert (await intake.client.get(f"/v1/claims/{claim_id}", headers=intake.partner("H-001"))).status_code == 404
    assert (
        await intake.client.get(f"/v1/claims/{claim_id}/timeline", headers=intake.partner("H-001"))
    ).status_code == 404
    up = await intake.client.post(
        f"/v1/claims/{claim_id}/documents",
        data={"type": "invoice"},
        files={"file": ("i.pdf", kit.PDF, "application/pdf")},
        headers=intake.partner("H-001"),
    )
    assert up.status_code == 404
    # searching for another hospital's claims gives nothing, even when asked by provider_id
    other = await intake.client.get("/v1/claims", params={"provider_id": "H-777"}, headers=intake.partner("H-001"))
    assert other.json()["items"] == []
    own = await intake.client.get("/v1/claims", params={"provider_id": "H-777"}, headers=intake.partner("H-777"))
    assert [c["claim_id"] for c in own.json()["items"]] == [claim_id]
    # a claim the member submitted is not the hospital's
    member_id = mine["member"]["member_id"]
    by_member = await intake.client.post(
        "/v1/claims", json=mine, headers=intake.auth("member", sub="mem", member_id=member_id)
    )
    assert by_member.status_code == 201
    seen = await intake.client.get(f"/v1/claims/{by_member.json()['claim_id']}", headers=intake.partner("H-777"))
    assert seen.status_code == 404


async def test_member_sees_only_own_claims(intake, claim, kit):
    body = claim()
    member_id = body["member"]["member_id"]
    me = intake.auth("member", sub="member-x", member_id=member_id)
    stranger = intake.auth("member", sub="member-y", member_id="M-OTHER")
    assert (await intake.client.post("/v1/claims", json=body, headers=stranger)).status_code == 403
    resp = await intake.client.post("/v1/claims", json=body, headers=me)
    assert resp.status_code == 201
    claim_id = resp.json()["claim_id"]
    assert (await intake.client.get(f"/v1/claims/{claim_id}", headers=me)).status_code == 200
    assert (await intake.client.get(f"/v1/claims/{claim_id}", headers=stranger)).status_code == 404
    listed = await intake.client.get("/v1/claims", headers=stranger)
    assert listed.json()["items"] == []
    listed = await intake.client.get("/v1/claims", params={"member_id": member_id}, headers=stranger)
    assert listed.json()["items"] == []
    # the submission by a member is not a hospital's
    assert (await intake.client.get(f"/v1/claims/{claim_id}", headers=intake.auth("auditor"))).json()[
        "submitted_by_provider"
    ] is False


async def test_roles_and_tokens(intake, claim):
    body = claim()
    assert (await intake.client.post("/v1/claims", json=body)).status_code == 401
    assert (await intake.client.post("/v1/claims", json=body, headers=intake.auth("finance"))).status_code == 403
    assert (await intake.client.get("/v1/claims", headers={"Authorization": "Bearer nope"})).status_code == 401
    assert (await intake.client.get("/v1/claims", headers=intake.auth("auditor"))).status_code == 200
