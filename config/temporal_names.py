"""Task queues and search attributes: the names Baton shares with the Temporal server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from temporalio.common import SearchAttributeKey

QueueRole = Literal["workflows", "documents", "io"]
QUEUE_ROLES: tuple[QueueRole, ...] = ("workflows", "documents", "io")
_BASE_NAMES: dict[QueueRole, str] = {
    "workflows": "baton-workflows",
    "documents": "baton-documents",
    "io": "baton-io",
}


@dataclass(frozen=True)
class TaskQueues:
    """The task queue names of one deployment; workers are split by the kind of work.

    An optional prefix (``temporal.task_queue_prefix``) lets several deployments share one
    namespace. Workflow code derives the activity queues from its own queue, so it never
    reads settings.
    """

    prefix: str = ""

    def name(self, role: QueueRole) -> str:
        """The queue carrying one kind of work: workflow tasks, document work or I/O."""
        return f"{self.prefix}{_BASE_NAMES[role]}"

    @property
    def workflows(self) -> str:
        """Workflow tasks."""
        return self.name("workflows")

    @property
    def documents(self) -> str:
        """CPU-heavy document work: PDF parsing and OCR."""
        return self.name("documents")

    @property
    def io(self) -> str:
        """I/O work: mail, storage, database, ERP."""
        return self.name("io")

    @classmethod
    def of_workflow_queue(cls, workflow_queue: str) -> TaskQueues:
        """The queues of the deployment whose workflow queue this is."""
        base = _BASE_NAMES["workflows"]
        if not workflow_queue.endswith(base):
            return cls()
        return cls(prefix=workflow_queue.removesuffix(base))


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
