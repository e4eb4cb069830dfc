"""FastAPI dependencies every service uses: the unit of work of a request and the runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, cast

from fastapi import Depends, Request

from claims_platform.db import UnitOfWork

if TYPE_CHECKING:
    from claims_platform.service import ServiceRuntime


def runtime_of(request: Request) -> ServiceRuntime:
    """The service runtime behind the app."""
    return cast("ServiceRuntime", request.app.state.runtime)


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    """One transaction per request: committed when the route returns, before the response is sent."""
    async with runtime_of(request).db.uow() as uow:
        yield uow


UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work, scope="function")]
