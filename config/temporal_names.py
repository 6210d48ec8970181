"""Task queues and search attributes: the names Baton shares with the Temporal server."""

from __future__ import annotations

from enum import StrEnum

from temporalio.common import SearchAttributeKey


class TaskQueue(StrEnum):
    """Workers are split by the kind of work they do, so each scales on its own."""

    WORKFLOWS = "baton-workflows"
    DOCUMENTS = "baton-documents"
    IO = "baton-io"


QUEUE_BY_ROLE: dict[str, TaskQueue] = {
    "workflows": TaskQueue.WORKFLOWS,
    "documents": TaskQueue.DOCUMENTS,
    "io": TaskQueue.IO,
}

ORG = SearchAttributeKey.for_keyword("BatonOrg")
PROCESS = SearchAttributeKey.for_keyword("BatonProcess")
STAGE = SearchAttributeKey.for_keyword("BatonStage")
RUN_STATE = SearchAttributeKey.for_keyword("BatonRunState")
ASSIGNEES = SearchAttributeKey.for_keyword_list("BatonAssignees")
INITIATOR = SearchAttributeKey.for_keyword("BatonInitiator")
DUE_AT = SearchAttributeKey.for_datetime("BatonDueAt")
AMOUNT = SearchAttributeKey.for_float("BatonAmount")
SUPPLIER = SearchAttributeKey.for_keyword("BatonSupplier")
INVOICE_NUMBER = SearchAttributeKey.for_keyword("BatonInvoiceNumber")
FAILURE_REASON = SearchAttributeKey.for_keyword("BatonFailureReason")

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey, ...] = (  # type: ignore[type-arg]
    ORG,
    PROCESS,
    STAGE,
    RUN_STATE,
    ASSIGNEES,
    INITIATOR,
    DUE_AT,
    AMOUNT,
    SUPPLIER,
    INVOICE_NUMBER,
    FAILURE_REASON,
)

_CLI_TYPE_NAMES = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "DATETIME": "Datetime",
    "DOUBLE": "Double",
    "INT": "Int",
    "BOOL": "Bool",
    "TEXT": "Text",
}


def dev_server_search_attribute_args() -> list[str]:
    """`--search-attribute Name=Type` arguments that register Baton's attributes on a dev server."""
    args: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type.name]}"]
    return args
