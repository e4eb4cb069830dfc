"""Plans and policies over HTTP: admin only, validated field by field (problem+json), versioned."""

from __future__ import annotations

import copy
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from claims_adjudication.app import create_app
from claims_adjudication.config import AdjudicationSettings
from claims_platform.testing import bearer, serve

PLAN = {
    "name": "Standard medical 2026",
    "currency": "CNY",
    "annual_deductible": "500.00",
    "annual_limit": "200000.00",
    "per_claim_limit": None,
    "waiting_period_days": 30,
    "excluded_diagnoses": ["O", "K02", "Z41"],
    "review_threshold": "50000.00",
    "categories": {
        "consultation": {"coinsurance": "0.80"},
        "drugs": {"coinsurance": "0.70", "annual_sublimit": "20000.00"},
        "room": {"coinsurance": "1.00", "per_day_limit": "300.00", "deductible_applies": False},
    },
}
POLICY = {
    "plan_code": "STD-2026",
    "holder_name": "张三",
    "effective_date": "2026-01-01",
    "expiry_date": "2026-12-31",
    "status": "active",
    "members": [{"member_id": "M-1001", "name": "张三"}],
}


@pytest.fixture(scope="module")
async def catalog(pg_admin_url, jwt_secret):
    """One service (in-process bus, own database) shared by this module's read-mostly tests."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    settings = AdjudicationSettings(environment="test", database_url=url, jwt_secret=jwt_secret)
    try:
        async with serve(create_app(settings)) as client:
            headers = bearer(jwt_secret, "admin", sub="admin-1")
            assert (await client.put("/v1/plans/STD-2026", json=PLAN, headers=headers)).status_code in (200, 201)
            yield client
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def _with(doc, path, value):
    doc = copy.deepcopy(doc)
    *parents, last = path
    target = doc
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return doc


_DELETE = object()

BAD_PLANS = [
    (("categories", "drugs", "coinsurance"), "1.01", "categories.drugs.coinsurance"),
    (("categories", "drugs", "coinsurance"), "-0.10", "categories.drugs.coinsurance"),
    (("categories", "drugs", "coinsurance"), "0.12345", "categories.drugs.coinsurance"),
    (("categories", "drugs", "annual_sublimit"), "-1.00", "categories.drugs.annual_sublimit"),
    (("categories", "room", "per_day_limit"), "-300.00", "categories.room.per_day_limit"),
    (("categories", "dental"), {"coinsurance": "0.50"}, "categories.dental"),
    (("categories", "drugs", "copay"), "10.00", "categories.drugs.copay"),
    (("categories",), {}, "categories"),
    (("annual_deductible",), "-500.00", "annual_deductible"),
    (("annual_deductible",), "500.001", "annual_deductible"),
    (("annual_limit",), "lots", "annual_limit"),
    (("annual_limit",), _DELETE, "annual_limit"),
    (("per_claim_limit",), "-1", "per_claim_limit"),
    (("review_threshold",), "-0.01", "review_threshold"),
    (("waiting_period_days",), -1, "waiting_period_days"),
    (("excluded_diagnoses",), ["K02", "02K"], "excluded_diagnoses[1]"),
    (("excluded_diagnoses",), ["k02"], "excluded_diagnoses[0]"),
    (("excluded_diagnoses",), [""], "excluded_diagnoses[0]"),
    (("currency",), "CN", "currency"),
    (("name",), "", "name"),
    (("surprise",), 1, "surprise"),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD_PLANS)
async def test_invalid_plan_is_refused_naming_the_field(catalog, jwt_secret, path, value, field):
    r = await catalog.put("/v1/plans/BAD-1", json=_with(PLAN, path, value), headers=bearer(jwt_secret, "admin"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    # an unknown key of a mapping is reported under it (``categories.dental.[key]``)
    assert any(e["field"].startswith(field) for e in r.json()["errors"]), r.json()
    r = await catalog.get("/v1/plans/BAD-1", headers=bearer(jwt_secret, "auditor"))
    assert r.status_code == 404


BAD_POLICIES = [
    (("expiry_date",), "2025-12-31", "expiry_date"),
    (("effective_date",), "2026-02-30", "effective_date"),
    (("plan_code",), "NO-SUCH-PLAN", "plan_code"),
    (("status",), "sleeping", "status"),
    (("members",), [], "members"),
    (("members",), [{"member_id": "M-1", "name": "a"}, {"member_id": "M-1", "name": "b"}], "members[1].member_id"),
    (("members",), [{"member_id": "M 1", "name": "a"}], "members[0].member_id"),
    (("holder_name",), "x" * 201, "holder_name"),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD_POLICIES)
async def test_invalid_policy_is_refused_naming_the_field(catalog, jwt_secret, path, value, field):
    r = await catalog.put("/v1/policies/POL-BAD", json=_with(POLICY, path, value), headers=bearer(jwt_secret, "admin"))
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert (await catalog.get("/v1/policies/POL-BAD", headers=bearer(jwt_secret, "admin"))).status_code == 404


async def test_catalog_needs_the_right_role_and_well_formed_requests(catalog, jwt_secret):
    assert (await catalog.put("/v1/plans/P-1", json=PLAN)).status_code == 401
    assert (await catalog.put("/v1/plans/P-1", json=PLAN, headers=bearer(jwt_secret, "adjuster"))).status_code == 403
    r = await catalog.put("/v1/policies/POL-1", json=POLICY, headers=bearer(jwt_secret, "supervisor"))
    assert r.status_code == 403
    assert (
        await catalog.get("/v1/plans/STD-2026", headers=bearer(jwt_secret, "member", member_id="M-1"))
    ).status_code == 403
    admin = bearer(jwt_secret, "admin")
    r = await catalog.put("/v1/plans/bad code!", json=PLAN, headers=admin)
    assert r.status_code in (404, 422)
    r = await catalog.put("/v1/plans/P-1", content=b'{"name": ', headers={**admin, "content-type": "application/json"})
    assert r.status_code == 400


async def test_plans_are_versioned_and_policies_counted_up(catalog, jwt_secret):
    admin = bearer(jwt_secret, "admin", sub="admin-7")
    r = await catalog.put("/v1/plans/VER-1", json=PLAN, headers=admin)
    assert (r.status_code, r.json()["version"], r.json()["created_by"]) == (201, 1, "admin-7")
    r = await catalog.put("/v1/plans/VER-1", json=PLAN, headers=admin)
    assert (r.status_code, r.json()["version"]) == (200, 1)  # unchanged: no new version
    r = await catalog.put("/v1/plans/VER-1", json={**PLAN, "annual_deductible": "800.00"}, headers=admin)
    assert (r.status_code, r.json()["version"]) == (200, 2)
    reader = bearer(jwt_secret, "adjuster")
    r = await catalog.get("/v1/plans/VER-1", headers=reader)
    assert (r.json()["version"], r.json()["annual_deductible"]) == (2, "800.00")
    r = await catalog.get("/v1/plans/VER-1", params={"version": 1}, headers=reader)
    assert (r.json()["version"], r.json()["annual_deductible"]) == (1, "500.00")
    assert r.json()["categories"]["drugs"] == {
        "coinsurance": "0.70",
        "annual_sublimit": "20000.00",
        "per_day_limit": None,
        "deductible_applies": True,
    }
    assert (await catalog.get("/v1/plans/VER-1", params={"version": 3}, headers=reader)).status_code == 404

    r = await catalog.put("/v1/policies/POL-V", json={**POLICY, "plan_code": "VER-1"}, headers=admin)
    assert (r.status_code, r.json()["version"]) == (201, 1)
    r = await catalog.put(
        "/v1/policies/POL-V", json={**POLICY, "plan_code": "VER-1", "status": "suspended"}, headers=admin
    )
    assert (r.status_code, r.json()["version"], r.json()["status"]) == (200, 2, "suspended")
    r = await catalog.get("/v1/audit", params={"entity_id": "POL-V"}, headers=bearer(jwt_secret, "auditor"))
    assert [(a["actor"], a["action"]) for a in r.json()["items"]] == [
        ("admin-7", "policy_created"),
        ("admin-7", "policy_updated"),
    ]
