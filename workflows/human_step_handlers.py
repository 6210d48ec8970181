"""The Updates, Signals and Query every workflow with human steps answers.

Temporal needs handlers on the workflow class; a workflow inherits these and sets `self.flow`,
its `ApprovalFlow`, which holds the rules. Workflow code only: no I/O.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.approvals import (
        ClaimRequest,
        CommentRequest,
        DecisionRequest,
        ReassignRequest,
        RunView,
        WatchRequest,
    )

from workflows.human_step import ApprovalFlow, RequestRefused


class HumanStepHandlers:
    """`view`, `decide`, `decide_signal`, `reassign`, `claim`, `comment`, `comment_signal`,
    `watch`: each checked by the flow before anything is written."""

    flow: ApprovalFlow

    @workflow.query
    def view(self) -> RunView:
        """The run as people see it."""
        return self.flow.state

    @workflow.update
    def decide(self, request: DecisionRequest) -> RunView:
        """A current assignee approves or rejects the pending step."""
        return self.flow.decide(request)

    @decide.validator
    def _check_decide(self, request: DecisionRequest) -> None:
        self.flow.check_decision(request)

    @workflow.signal
    def decide_signal(self, request: DecisionRequest) -> None:
        """The fire-and-forget form of `decide` (an email reply, the CLI)."""
        try:
            self.flow.decide(request)
        except RequestRefused as refused:
            workflow.logger.warning("refused a decision by %s: %s", request.actor.email, refused)

    @workflow.update
    async def reassign(self, request: ReassignRequest) -> RunView:
        """A current assignee hands the task to a colleague."""
        return await self.flow.reassign_task(request.actor, request.to, request.reason)

    @reassign.validator
    def _check_reassign(self, request: ReassignRequest) -> None:
        self.flow.check_reassign(request.actor, request.to)

    @workflow.update
    async def claim(self, request: ClaimRequest) -> RunView:
        """Someone the step's claim rule allows takes the task."""
        return await self.flow.claim_task(request.actor, request.reason)

    @claim.validator
    def _check_claim(self, request: ClaimRequest) -> None:
        self.flow.check_claim(request.actor)

    @workflow.update
    async def comment(self, request: CommentRequest) -> RunView:
        """A comment on the run; the step's comment notice goes out."""
        return await self.flow.add_comment(request.actor, request.text)

    @comment.validator
    def _check_comment(self, request: CommentRequest) -> None:
        self.flow.check_comment(request.actor, request.text)

    @workflow.signal
    async def comment_signal(self, request: CommentRequest) -> None:
        """The fire-and-forget form of `comment`."""
        try:
            await self.flow.add_comment(request.actor, request.text)
        except RequestRefused as refused:
            workflow.logger.warning("refused a comment by %s: %s", request.actor.email, refused)

    @workflow.update
    def watch(self, request: WatchRequest) -> RunView:
        """Start or stop watching the run."""
        return self.flow.watch(request)

    @watch.validator
    def _check_watch(self, request: WatchRequest) -> None:
        self.flow.check_watch(request)
