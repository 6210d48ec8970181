"""The human step: a reusable block a workflow holds to run its approval steps.

`ApprovalFlow` keeps the run's visible state (`RunView`: stage, tasks, transitions, comments,
attachments, watchers, outcome), resolves a step's assignees through the directory, waits for a
decision with reminders, an escalation chain and a deadline driven by timers, and upserts the
search attributes and current details. The workflow class defines the Update and Signal handlers
(Temporal requires it) and delegates to the `check_*` methods (validators: they raise
`RequestRefused` before anything is written) and to the handler methods here.

`BatonAssignees` holds the current assignees' email addresses. Workflow code only: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from config.policies import ProcessPolicies, StepPolicy, activity_options
    from config.temporal_names import ASSIGNEES, DUE_AT, RUN_STATE, STAGE, TaskQueues
    from models.approvals import (
        DECISION_EVENTS,
        LINK_LIFETIME_WITHOUT_DEADLINE,
        AssigneeQuery,
        Attachment,
        AttachRequest,
        HumanStepConfig,
        People,
        Person,
        PersonLookup,
        PersonQuery,
        RunView,
        StepEvent,
        TaskView,
    )
    from models.notifications import ApprovalLinkSpec, EmailRequest

from workflows.approval_checks import ApprovalChecks, RequestRefused
from workflows.steps import NOTIFY_STEP, send_notice

__all__ = ["ApprovalFlow", "RequestRefused"]

DIRECTORY_STEP = "directory"


def format_time(moment: datetime | None) -> str:
    """A time as people read it in mail and in the Web UI."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "no deadline"


def format_size(size: int) -> str:
    """A file size as people read it: 812 bytes, 14.2 KB, 3.1 MB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


class ApprovalFlow(ApprovalChecks):
    """The human steps of one run, and the state people see."""

    def __init__(self, state: RunView, carry: Callable[[], NoReturn] | None = None) -> None:
        super().__init__(state)
        self.policies: ProcessPolicies | None = None
        self.summary = ""
        self._carry = carry
        self._queues = TaskQueues.of_workflow_queue(workflow.info().task_queue)

    # -- running a step --------------------------------------------------------------------

    async def run_step(self, step: str, config: HumanStepConfig) -> TaskView:
        """Assign the step and wait until it is decided, expires, or the run ends."""
        self.configs[step] = config
        task = self.task(step)
        if task is None:
            task = TaskView(step=step, title=config.title, started_at=workflow.now())
            self.state.tasks.append(task)
            self.state.stage = step
            self.publish()
            people = await self._resolve(task, config)
            if self.ended:
                return task
            if not people:
                self._expire(task, f"nobody can be assigned the {step} step")
                return task
            task.assignees = people
            self._set_due(task, config)
            index = self.record(step, "assigned", assignees=people)
            self.publish()
            await self.notify(step, "task_assigned", f"{step}:assigned:{index}")
        elif task.status != "pending":
            return task
        self.publish()
        await self._wait(task, config)
        return task

    async def _resolve(self, task: TaskView, config: HumanStepConfig) -> list[Person]:
        found = await self.call(
            "resolve_assignees",
            AssigneeQuery(
                org=self.state.org,
                rule=config.assignee,
                initiator_id=self.initiator.id,
                exclude_initiator=not self.initiator_may_act(task.step),
            ),
            People,
        )
        people = list(found.people)
        chosen = self._chosen_next()
        if chosen is not None:
            picked = [person for person in people if person.id == chosen]
            if picked:
                people = picked
            else:
                workflow.logger.warning("user %s may not take step %s", chosen, task.step)
        if not people and config.sla.fallback_approver:
            fallback = await self._lookup(
                PersonQuery(org=self.state.org, email=config.sla.fallback_approver)
            )
            people = (
                [fallback]
                if fallback
                and (fallback.id != self.initiator.id or self.initiator_may_act(task.step))
                else []
            )
        return people

    def _chosen_next(self) -> int | None:
        decided = [task for task in self.state.tasks if task.status == "approved"]
        return decided[-1].next_assignee if decided else None

    async def _wait(self, task: TaskView, config: HumanStepConfig) -> None:
        schedule = config.sla.schedule()
        while task.status == "pending" and not self.ended:
            if self._carry is not None and workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                self._carry()
            if task.fired >= len(schedule):
                await workflow.wait_condition(lambda: self._settled(task))
                continue
            offset, kind, number = schedule[task.fired]
            remaining = task.started_at + offset - workflow.now()
            if remaining > timedelta(0):
                try:
                    await workflow.wait_condition(lambda: self._settled(task), timeout=remaining)
                    continue
                except TimeoutError:
                    pass
            task.fired += 1
            if kind == "reminder":
                await self._remind(task, number)
            elif kind == "escalate":
                await self._escalate(task, config, number)
            else:
                self._expire(task, f"no decision on the {task.step} step by its deadline")
            self._set_due(task, config)
            self.publish()

    def _settled(self, task: TaskView) -> bool:
        suggested = self._carry is not None and workflow.info().is_continue_as_new_suggested()
        return task.status != "pending" or self.ended or suggested

    async def _remind(self, task: TaskView, number: int) -> None:
        self.record(task.step, "reminded", assignees=task.assignees, reason=f"reminder {number}")
        await self.notify(
            task.step, "task_reminder", f"{task.step}:reminder:{number}", number=number
        )

    async def _escalate(self, task: TaskView, config: HumanStepConfig, level: int) -> None:
        chain = config.sla.escalation
        target: Person | None = None
        if chain[level - 1] == "assignees_manager" and task.assignees:
            query = PersonQuery(org=self.state.org, user_id=task.assignees[0].id)
            target = await self._lookup(query, activity="find_manager")
        elif chain[level - 1] == "fallback" and config.sla.fallback_approver:
            target = await self._lookup(
                PersonQuery(org=self.state.org, email=config.sla.fallback_approver)
            )
        if task.status != "pending" or self.ended:
            return
        if target is None or target.id == self.initiator.id or [target] == task.assignees:
            workflow.logger.info("step %s: nobody to escalate to at level %s", task.step, level)
            return
        previous = task.assignees
        task.assignees = [target]
        task.escalation_level = level
        self.record(task.step, "escalated", assignees=[target], reason=f"escalation level {level}")
        self.publish()
        await self.notify(
            task.step,
            "task_escalated",
            f"{task.step}:escalated:{level}",
            previous=previous,
            level=level,
            previous_names=", ".join(person.name for person in previous),
        )

    def _expire(self, task: TaskView, reason: str) -> None:
        task.status = "expired"
        self.record(task.step, "expired", reason=reason)
        self.end("expired", reason)

    def _set_due(self, task: TaskView, config: HumanStepConfig) -> None:
        schedule = config.sla.schedule()
        upcoming = [offset for offset, kind, _ in schedule[task.fired :] if kind != "reminder"]
        task.due_at = task.started_at + upcoming[0] if upcoming else None
        deadline = config.sla.deadline
        task.deadline_at = task.started_at + deadline if deadline is not None else None

    # -- handlers (after their checks passed) ----------------------------------------------

    async def reassign_task(self, actor: Person, to: Person, reason: str) -> RunView:
        """Hand the task from one assignee to a colleague, and tell the colleague."""
        task = self.check_reassign(actor, to)
        task.assignees = [to if person.id == actor.id else person for person in task.assignees]
        index = self.record(
            task.step, "reassigned", actor=actor, assignees=task.assignees, reason=reason
        )
        self.publish()
        await self.notify(task.step, "task_assigned", f"{task.step}:assigned:{index}", only=[to])
        return self.state

    async def claim_task(self, actor: Person, reason: str) -> RunView:
        """Someone the claim rule allows takes the task."""
        task = self.check_claim(actor)
        task.assignees = [actor]
        self.record(task.step, "claimed", actor=actor, assignees=[actor], reason=reason)
        self.publish()
        return self.state

    async def add_comment(self, actor: Person, text: str) -> RunView:
        """Keep a comment and tell the people the step's notices name."""
        self.check_comment(actor, text)
        current = self.current
        self.add_comment_record(actor, text)
        number = len(self.state.comments)
        step = current.step if current else self.state.stage
        await self.notify(
            step,
            "task_commented",
            f"comment:{number}",
            exclude=actor,
            actor_name=actor.name,
            comment=text,
        )
        return self.state

    async def add_attachment(self, request: AttachRequest) -> RunView:
        """Keep a stored file's record and tell the people the step's notices name."""
        self.check_attach(request)
        current = self.current
        step = current.step if current else self.state.stage
        attachment = Attachment(
            name=request.name,
            key=request.key,
            size=request.size,
            content_type=request.content_type,
            uploaded_by=request.actor,
            at=workflow.now(),
            step=current.step if current else None,
        )
        self.state.attachments.append(attachment)
        await self.notify(
            step,
            "file_uploaded",
            f"attachment:{len(self.state.attachments)}",
            exclude=request.actor,
            actor_name=request.actor.name,
            file_name=attachment.name,
            file_size=format_size(attachment.size),
            content_type=attachment.content_type,
        )
        return self.state

    # -- side effects ------------------------------------------------------------------------

    def publish(self) -> None:
        """Upsert the search attributes and the current details from the state."""
        task = self.current
        emails = [person.email for person in task.assignees] if task else []
        updates: list[Any] = [
            STAGE.value_set(self.state.stage),
            RUN_STATE.value_set(self.state.outcome or ("waiting" if task else "running")),
            ASSIGNEES.value_set(emails),
            DUE_AT.value_set(task.due_at) if task and task.due_at else DUE_AT.value_unset(),
        ]
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(self.describe())

    def describe(self) -> str:
        """What the run waits for, in a sentence for the Web UI."""
        task = self.current
        if self.state.outcome is not None:
            reason = f": {self.state.outcome_reason}" if self.state.outcome_reason else ""
            return f"Ended {self.state.outcome}{reason}"
        if task is None:
            return f"Working ({self.state.stage})"
        if not task.assignees:
            return f"Finding who decides the {task.step} step"
        names = " or ".join(person.name for person in task.assignees)
        return f"Waiting for {names} to approve ({task.step} step) until {format_time(task.due_at)}"

    def recipients(self, names: list[str], *, previous: list[Person] | None = None) -> list[str]:
        """Email addresses for `assignees`, `previous_assignees`, `initiator`, `watchers`, ..."""
        task = self.current
        out: list[str] = []
        for name in names:
            if name == "assignees":
                out += [person.email for person in (task.assignees if task else [])]
            elif name == "previous_assignees":
                out += [person.email for person in previous or []]
            elif name == "initiator":
                out.append(self.initiator.email)
            elif name == "watchers":
                out += [person.email for person in self.state.watchers]
            elif "@" in name:
                out.append(name)
        return list(dict.fromkeys(out))

    async def notify(
        self,
        step: str,
        event: StepEvent,
        key: str,
        *,
        only: list[Person] | None = None,
        previous: list[Person] | None = None,
        exclude: Person | None = None,
        **context: Any,
    ) -> None:
        """Send the step event's notice to the recipients the step's config names."""
        config = self.configs.get(step)
        names = config.notifications.get(event, []) if config else ["assignees", "initiator"]
        to = (
            [p.email for p in only]
            if only is not None
            else self.recipients(names, previous=previous)
        )
        to = [email for email in to if exclude is None or email != exclude.email]
        task = self.current
        context = {
            "title": config.title if config and config.title else step,
            "assignee_names": ", ".join(person.name for person in (task.assignees if task else [])),
            "due_at": format_time(task.due_at) if task else "",
            **context,
        }
        deciders = (
            [person for person in task.assignees if person.email in to]
            if task is not None and event in DECISION_EVENTS
            else []
        )
        for person in deciders:
            links = self._links_for(task, person) if task else None
            await self.send_email(
                event, f"{key}:to:{person.id}", [person.email], step, links=links, **context
            )
        others = [email for email in to if email not in {p.email for p in deciders}]
        await self.send_email(event, key, others, step, **context)

    def _links_for(self, task: TaskView, person: Person) -> ApprovalLinkSpec:
        """Approval links for one holder of the task, dying with this assignment."""
        expires = task.deadline_at or task.started_at + LINK_LIFETIME_WITHOUT_DEADLINE
        return ApprovalLinkSpec(
            org=self.state.org,
            run=workflow.info().workflow_id,
            step=task.step,
            task=task.step,
            assignment=self.state.current_assignment(task.step),
            approver_id=person.id,
            expires_at=expires,
        )

    async def send_email(
        self,
        event: str,
        key: str,
        to: list[str],
        step: str,
        links: ApprovalLinkSpec | None = None,
        **context: Any,
    ) -> None:
        """One templated email per key; a notice that cannot go out never decides the run."""
        if not to:
            return
        request = EmailRequest(
            idempotency_key=f"{workflow.info().workflow_id}:{key}",
            event=event,
            to=to,
            context={
                "process": self.state.process,
                "run_id": workflow.info().workflow_id,
                "step": step,
                "summary": self.summary,
                "initiator_name": self.initiator.name,
                **context,
            },
            approval_links=links,
        )
        await send_notice(request, self._queues.io, self._policy(NOTIFY_STEP))

    async def call(self, activity: str, arg: Any, result_type: type[Any]) -> Any:
        """Run a directory or records activity under its step's policy on the I/O queue."""
        return await workflow.execute_activity(
            activity,
            arg,
            task_queue=self._queues.io,
            result_type=result_type,
            summary=activity,
            **activity_options(self._policy(DIRECTORY_STEP)),
        )

    async def _lookup(self, query: PersonQuery, activity: str = "find_person") -> Person | None:
        found: PersonLookup = await self.call(activity, query, PersonLookup)
        return found.person

    def _policy(self, step: str) -> StepPolicy:
        if self.policies is None:
            return StepPolicy(hard_timeout=timedelta(minutes=10))
        return self.policies.policy_for(step)
