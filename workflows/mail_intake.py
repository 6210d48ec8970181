"""MailIntakeWorkflow: one check of one mailbox, started by the mailbox's Temporal Schedule.

Lists the unseen messages (oldest first, up to the batch size), then takes them in a few at a
time: each message is recorded with its Message-ID and content hash before anything else, then
started as an AP run (its transaction id derived from the record, so never twice), applied as an
approval reply, or recorded as unidentified with its reason, and only then marked seen and moved
to the processed folder. A full batch continues as a new run for the rest.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from config.temporal_names import ORG, PROCESS, RUN_STATE
    from models.mailboxes import (
        PROCESS_NAME,
        MailboxRef,
        MailIntakeInput,
        MailIntakeResult,
        TakeInRequest,
        TakeInResult,
        UnseenMessage,
        UnseenMessages,
    )
    from models.steps import RunContext

from workflows.steps import StepFailed, StepRunner, load_policies

LIST_STEP = "list_messages"
TAKE_IN_STEP = "take_in"


def chunks(messages: list[UnseenMessage], size: int) -> list[list[UnseenMessage]]:
    """The messages in runs of at most `size`."""
    return [messages[start : start + size] for start in range(0, len(messages), size)]


@workflow.defn
class MailIntakeWorkflow:
    """Reads a mailbox's unseen messages and hands each to the process it belongs to, once."""

    def __init__(self) -> None:
        self._result = MailIntakeResult(mailbox="")
        self._total = 0

    @workflow.query
    def progress(self) -> MailIntakeResult:
        """What the run has done so far."""
        return self._result

    @workflow.run
    async def run(self, request: MailIntakeInput) -> MailIntakeResult:
        """List, take in chunk by chunk, and continue as new while the mailbox has more."""
        workflow.upsert_search_attributes(
            [
                ORG.value_set(request.org),
                PROCESS.value_set(PROCESS_NAME),
                RUN_STATE.value_set("running"),
            ]
        )
        if request.so_far is not None:
            self._result = request.so_far.model_copy(deep=True)
        workflow.set_current_details("Listing unseen messages")
        filed_before = self._result.filed
        runner = StepRunner(
            await load_policies(request.org, PROCESS_NAME),
            RunContext(org=request.org, process=PROCESS_NAME, run_id=workflow.info().workflow_id),
        )
        try:
            listing: UnseenMessages = await runner.execute(
                LIST_STEP,
                "list_unseen_messages",
                MailboxRef(
                    org=request.org, mailbox_id=request.mailbox_id, limit=request.batch_size
                ),
                result_type=UnseenMessages,
            )
            self._result.mailbox = listing.mailbox
            self._total = self._result.seen + len(listing.messages)
            for chunk in chunks(listing.messages, request.chunk_size):
                await self._take_in(runner, request, listing, chunk)
        except StepFailed as failed:
            workflow.upsert_search_attributes([RUN_STATE.value_set("failed")])
            workflow.set_current_details(f"Failed: {failed.record.details}")
            raise ApplicationError(
                failed.record.details, type=failed.record.reason, non_retryable=True
            ) from failed
        workflow.upsert_search_attributes([RUN_STATE.value_set("completed")])
        workflow.set_current_details(self._describe())
        if len(listing.messages) >= listing.batch_size and self._result.filed > filed_before:
            workflow.continue_as_new(request.model_copy(update={"so_far": self._result}))
        return self._result

    async def _take_in(
        self,
        runner: StepRunner,
        request: MailIntakeInput,
        listing: UnseenMessages,
        chunk: list[UnseenMessage],
    ) -> None:
        taken: TakeInResult = await runner.execute(
            TAKE_IN_STEP,
            "take_in_messages",
            TakeInRequest(
                org=request.org,
                mailbox_id=request.mailbox_id,
                uid_validity=listing.uid_validity,
                messages=chunk,
                intake_run=workflow.info().workflow_id,
            ),
            result_type=TakeInResult,
        )
        result = self._result
        result.seen += len(taken.outcomes)
        result.filed += sum(1 for outcome in taken.outcomes if outcome.filed)
        for outcome in taken.outcomes:
            result.handled[outcome.handling] = result.handled.get(outcome.handling, 0) + 1
        result.phases = result.phases.plus(taken.phases)
        workflow.set_current_details(self._describe())

    def _describe(self) -> str:
        counts = ", ".join(
            f"{count} {name}" for name, count in sorted(self._result.handled.items())
        )
        return (
            f"{self._result.seen} of {self._total} messages of {self._result.mailbox}"
            f"{': ' + counts if counts else ''}"
        )
