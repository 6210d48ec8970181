"""The rules of the human step: who may decide, reassign, claim, comment, attach, watch, withdraw.

Each `check_*` method raises `RequestRefused` with a clear reason, changes nothing and does no
I/O, so it can serve as an Update validator (a refused Update writes nothing to the history)
and as the gate of a Signal (a refused Signal is logged and ignored). Workflow code only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.approvals import (
        MAX_ATTACHMENTS,
        AttachRequest,
        Comment,
        DecisionRequest,
        HumanStepConfig,
        Outcome,
        Person,
        RunView,
        TaskView,
        Transition,
        WatchRequest,
    )


class RequestRefused(ApplicationError):
    """A person's request that the run's state refuses (already decided, ended, ...)."""

    kind = "RequestRefused"

    def __init__(self, message: str) -> None:
        super().__init__(message, type=self.kind, non_retryable=True)


class NotPermitted(RequestRefused):
    """The person may not do this on this run (not the assignee, their own request, ...)."""

    kind = "NotPermitted"


class InvalidRequest(RequestRefused):
    """The request itself is incomplete or wrong (a rejection without a comment, ...)."""

    kind = "InvalidRequest"


class ApprovalChecks(ABC):
    """The state of a run's human steps and the checks every request passes first."""

    def __init__(self, state: RunView) -> None:
        self.state = state
        self.configs: dict[str, HumanStepConfig] = {}
        self.initiator_steps: tuple[str, ...] = ()
        """Step name prefixes the initiator may hold and decide (e.g. fixing their own upload)."""

    def initiator_may_act(self, step: str) -> bool:
        """Whether the initiator may hold this step (never, unless the process says so)."""
        return bool(self.initiator_steps) and step.startswith(self.initiator_steps)

    @property
    def initiator(self) -> Person:
        """Who started the run."""
        return self.state.initiator

    @property
    def ended(self) -> bool:
        """Whether the run has an outcome; nothing is accepted after it."""
        return self.state.outcome is not None

    @property
    def current(self) -> TaskView | None:
        """The task waiting for a decision, if any."""
        return self.state.current

    def task(self, step: str) -> TaskView | None:
        """The task of a step, once it has started."""
        return next((task for task in self.state.tasks if task.step == step), None)

    def end(self, outcome: Outcome, reason: str = "") -> None:
        """Give the run its outcome (once)."""
        if self.state.outcome is None:
            self.state.outcome = outcome
            self.state.outcome_reason = reason
            self.state.stage = "done"

    # -- checks ----------------------------------------------------------------------------

    def _check_open(self, actor: Person) -> None:
        if actor.org != self.state.org:
            raise NotPermitted("this request belongs to another organisation")
        if self.ended:
            raise RequestRefused(f"this request has already ended ({self.state.outcome})")

    def _check_assignee(self, actor: Person) -> TaskView:
        self._check_open(actor)
        task = self.current
        if task is None or not task.assignees:
            raise RequestRefused("no step of this request is waiting for a decision")
        if actor.id == self.initiator.id and not self.initiator_may_act(task.step):
            raise NotPermitted("nobody can decide their own request")
        if all(person.id != actor.id for person in task.assignees):
            earlier = [
                t.step for t in self.state.tasks if t.decided_by and t.decided_by.id == actor.id
            ]
            if earlier:
                raise RequestRefused(
                    f"{actor.name} already decided the {earlier[0]} step of this request"
                )
            names = ", ".join(person.name for person in task.assignees)
            raise NotPermitted(f"only {names} can act on the {task.step} step")
        return task

    def check_decision(self, request: DecisionRequest) -> TaskView:
        """A current assignee, once, with a comment when rejecting, not on their own request."""
        task = self._check_assignee(request.actor)
        if request.decision == "reject" and not request.comment.strip():
            raise InvalidRequest("a rejection needs a comment saying why")
        config = self.configs.get(task.step)
        if request.next_assignee is not None and not (config and config.assignee_may_choose_next):
            raise InvalidRequest(f"the {task.step} step does not let its assignee choose the next")
        return task

    def check_reassign(self, actor: Person, to: Person) -> TaskView:
        """A current assignee hands the task to someone else of the same org."""
        task = self._check_assignee(actor)
        if to.org != self.state.org:
            raise NotPermitted("a task can only go to someone of the same organisation")
        if to.id == self.initiator.id and not self.initiator_may_act(task.step):
            raise NotPermitted("nobody can decide their own request")
        if any(person.id == to.id for person in task.assignees):
            raise RequestRefused(f"{to.name} already holds the {task.step} step")
        return task

    def check_claim(self, actor: Person) -> TaskView:
        """Someone the step's claim rule allows, not yet holding it, takes the task."""
        self._check_open(actor)
        task = self.current
        if task is None or not task.assignees:
            raise RequestRefused("no step of this request is waiting for a decision")
        if actor.id == self.initiator.id and not self.initiator_may_act(task.step):
            raise NotPermitted("nobody can decide their own request")
        if any(person.id == actor.id for person in task.assignees):
            raise RequestRefused(f"{actor.name} already holds the {task.step} step")
        config = self.configs.get(task.step)
        if config is None or not config.claim.allows(actor):
            raise NotPermitted(f"{actor.name} may not claim the {task.step} step")
        return task

    def check_comment(self, actor: Person, text: str) -> None:
        """Someone of the org comments on a run that has not ended."""
        self._check_open(actor)
        if not text.strip():
            raise InvalidRequest("a comment needs some text")

    def check_attach(self, request: AttachRequest) -> None:
        """Someone of the org attaches a file stored under this run's folder, while it is open."""
        self._check_open(request.actor)
        folder = f"{self.state.org}/{self.state.process}/{workflow.info().workflow_id}/"
        file = request.key.removeprefix(folder)
        if not request.key.startswith(folder) or "/" in file or file in ("", ".", ".."):
            raise InvalidRequest("an attachment must be stored in this request's own folder")
        if any(attachment.key == request.key for attachment in self.state.attachments):
            raise RequestRefused("this file is already attached to the request")
        if len(self.state.attachments) >= MAX_ATTACHMENTS:
            raise RequestRefused(f"a request holds at most {MAX_ATTACHMENTS} files")

    def check_watch(self, request: WatchRequest) -> Person:
        """Anyone of the org watches; only the run's stakeholders add someone else."""
        self._check_open(request.actor)
        watcher = request.watcher or request.actor
        if watcher.org != self.state.org:
            raise NotPermitted("watchers must belong to the same organisation")
        if watcher.id != request.actor.id and request.actor.id not in self._stakeholders():
            raise NotPermitted("only the request's stakeholders can add other watchers")
        return watcher

    def check_withdraw(self, actor: Person) -> None:
        """Only the initiator, and only while the request is pending."""
        self._check_open(actor)
        if actor.id != self.initiator.id:
            raise NotPermitted("only the person who made the request can withdraw it")

    def _stakeholders(self) -> set[int]:
        ids = {self.initiator.id} | {person.id for person in self.state.watchers}
        for task in self.state.tasks:
            ids |= {person.id for person in task.assignees}
        return ids

    # -- state changes that need no I/O ------------------------------------------------------

    def decide(self, request: DecisionRequest) -> RunView:
        """Record a decision that passed its check; the waiting step moves on."""
        task = self.check_decision(request)
        task.status = "approved" if request.decision == "approve" else "rejected"
        task.decided_by = request.actor
        task.decided_at = workflow.now()
        task.comment = request.comment
        task.next_assignee = request.next_assignee
        self.record(task.step, task.status, actor=request.actor, reason=request.comment)
        if request.comment.strip():
            self.add_comment_record(request.actor, request.comment)
        self.publish()
        return self.state

    def watch(self, request: WatchRequest) -> RunView:
        """Add or remove a watcher."""
        watcher = self.check_watch(request)
        others = [person for person in self.state.watchers if person.id != watcher.id]
        self.state.watchers = others if request.stop else [*others, watcher]
        return self.state

    def withdraw(self, actor: Person, reason: str) -> RunView:
        """The initiator ends the run; a pending task is cancelled."""
        self.check_withdraw(actor)
        task = self.current
        if task is not None:
            task.status = "cancelled"
        self.record(self.state.stage, "withdrawn", actor=actor, reason=reason)
        self.end("withdrawn", reason or "withdrawn by the requester")
        self.publish()
        return self.state

    def add_comment_record(self, actor: Person, text: str) -> None:
        """Keep a comment on the run."""
        current = self.current
        self.state.comments.append(
            Comment(
                at=workflow.now(), actor=actor, text=text, step=current.step if current else None
            )
        )

    def record(
        self,
        step: str,
        kind: str,
        *,
        actor: Person | None = None,
        assignees: list[Person] | None = None,
        reason: str = "",
    ) -> int:
        """Add a transition to the history; returns its number (stable, for idempotency keys)."""
        self.state.transitions.append(
            Transition(
                at=workflow.now(),
                step=step,
                kind=kind,
                actor=actor,
                assignees=list(assignees or []),
                reason=reason,
            )
        )
        return len(self.state.transitions)

    @abstractmethod
    def publish(self) -> None:
        """Publish the state: search attributes and current details."""
