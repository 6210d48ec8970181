"""The AP invoice report and the failures list, from Temporal visibility.

Lists come from visibility, which trails a run's changes by a moment, and in its order: open
runs first (newest first), then closed runs, most recently closed first.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from temporalio.service import RPCError

from api.deps import SettingsDep, TemporalDep
from api.invoice_search import (
    FailurePage,
    InvalidPageToken,
    InvoiceFilters,
    InvoicePage,
    Paging,
    failures_query,
    find_failures,
    find_invoices,
    invoices_query,
)
from api.routes.invoices.access import Reader

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/invoices", tags=["invoices"])

BAD_FILTER: dict[int | str, dict[str, Any]] = {
    422: {"description": "A filter value that cannot be searched for, or a bad page token"},
    503: {"description": "Temporal visibility cannot be asked right now"},
}
FAILURES_LIMIT = 100


class FailureFilters(BaseModel):
    """Paging of the failures list."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=FAILURES_LIMIT)
    page_token: str | None = Field(default=None, max_length=4096)


def _bad_filter(error: ValueError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error))


def _unavailable(error: RPCError) -> HTTPException:
    logger.warning("could not list AP runs: %s", error)
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal visibility cannot be asked right now"
    )


@router.get("", response_model=InvoicePage, responses=BAD_FILTER)
async def list_invoices(
    filters: Annotated[InvoiceFilters, Query()],
    principal: Reader,
    client: TemporalDep,
    settings: SettingsDep,
) -> InvoicePage:
    """AP runs of your org: when and from whom each invoice came, supplier, amount, state.

    `failed=true` keeps runs that recorded a failure (failed, or resumed by an operator).
    """
    try:
        query = invoices_query(principal.org_id, filters)
        paging = Paging(filters.limit, filters.page_token, settings.secret_key())
        return await find_invoices(client, query, paging)
    except (InvalidPageToken, ValueError) as error:
        raise _bad_filter(error) from error
    except RPCError as error:
        raise _unavailable(error) from error


@router.get("/failures", response_model=FailurePage, responses=BAD_FILTER)
async def list_failures(
    paging: Annotated[FailureFilters, Query()],
    principal: Reader,
    client: TemporalDep,
    settings: SettingsDep,
) -> FailurePage:
    """Runs that failed a step and are failed or still open, with the reason.

    Closed runs carry the reason they ended with in `details`; for an open run waiting for an
    operator, read `GET /invoices/{transaction_id}`.
    """
    try:
        query = failures_query(principal.org_id)
        page = Paging(paging.limit, paging.page_token, settings.secret_key())
        return await find_failures(client, query, page)
    except InvalidPageToken as error:
        raise _bad_filter(error) from error
    except RPCError as error:
        raise _unavailable(error) from error
