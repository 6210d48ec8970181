"""ApInvoiceWorkflow: an invoice from its PDF to a matched, approved, ERP-posted invoice.

Workflow id: `<org>:ap_invoice:<transaction id>`. Stages, in order (`models.ap_invoice.STAGES`):
extract the invoice, the PO and the GRN; fetch a missing PO/GRN from the ERP or Baton's
purchase orders; verify and match; claim the invoice number (a duplicate ends the run, naming
the first); review findings in the exception step; approve (automatically when clean, matched and
under the threshold, else through the approval bands); post to the ERP once.

A document that cannot be read fails the run with its reason. A technical failure (an OCR crash,
the ERP down past its retries) opens an operator task: `retry_step`, `continue_at` a named stage
after a manual override, or reject. Updates: `decide`, `correct`, `continue_at`, `retry_step`,
`reassign`, `claim`, `comment`, `watch` (shared with every human-step workflow through
`HumanStepHandlers`); signals `decide_signal`, `comment_signal`; queries `view` and
`invoice_view`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from config.policies import ProcessPolicies
    from config.temporal_names import (
        AMOUNT,
        FAILURE_REASON,
        INITIATOR,
        INVOICE_NUMBER,
        ORG,
        PROCESS,
        SUPPLIER,
    )
    from models.ap_invoice import (
        PROCESS_NAME,
        ApInvoiceInput,
        ApInvoiceResult,
        ApSettings,
        ContinueRequest,
        CorrectionRequest,
        FieldCorrections,
        InvoiceManifest,
        InvoiceView,
        PurchaseOrderLookup,
        RetryRequest,
        Stage,
        VerifyInvoice,
    )
    from models.approvals import (
        DecisionRequest,
        Person,
        RunView,
        TaskView,
    )
    from models.erp import ErpPosted, ErpPosting, PurchaseOrderQuery
    from models.invoices import (
        DuplicateCheck,
        DuplicateClaim,
        ExtractedInvoice,
        ExtractRequest,
        GoodsReceipt,
        PurchaseOrder,
        Verification,
        VerifyRequest,
        normalise_invoice_number,
    )
    from models.steps import RunContext, StepFailure

from workflows.ap_routing import approval_steps, auto_approves, invoice_amount, with_sla
from workflows.approval_checks import NotPermitted, RequestRefused
from workflows.human_step import ApprovalFlow
from workflows.human_step_handlers import HumanStepHandlers
from workflows.steps import StepFailed, StepRunner, load_policies

DOCUMENT_ERRORS = frozenset(
    {
        "NotAPdf",
        "CorruptPdf",
        "EncryptedPdf",
        "FileTooLarge",
        "UnsupportedFile",
        "ExtractionTimeout",
        "ExtractionMemoryLimit",
    }
)
"""Failures that say the file itself is unusable: the run fails, no operator can fix it."""
IMAGE_ERRORS = frozenset({"CorruptImage", "ImageTooLarge"})
"""Unusable images: document errors too, for runs that passed the `image-errors-fail` patch."""
EXCEPTION_STEP = "exception"
OPERATOR_STEP = "operator"
APPROVAL_STEP = "approval"
OPERATOR_ROLES = frozenset({"operator", "admin"})
RECORD_STEP = "record"


def numbered(base: str, number: int) -> str:
    """The name of a human step's n-th task: `exception`, `exception_2`, ..."""
    return base if number == 1 else f"{base}_{number}"


@workflow.defn
class ApInvoiceWorkflow(HumanStepHandlers):
    """One invoice through extraction, checks, approval and posting."""

    @workflow.init
    def __init__(self, request: ApInvoiceInput) -> None:
        self.request = request
        state = RunView(
            workflow_id=workflow.info().workflow_id,
            org=request.org,
            process=PROCESS_NAME,
            initiator=request.initiator,
        )
        self.flow = ApprovalFlow(state)
        self.flow.initiator_steps = (EXCEPTION_STEP, OPERATOR_STEP)
        mail = request.mail
        self.invoice = InvoiceView(
            transaction_id=request.transaction_id,
            working_folder=request.working_folder,
            source=request.source,
            sender=mail.sender if mail else None,
            received_at=mail.received_at if mail else None,
        )
        self.flow.summary = f"Invoice {request.transaction_id}"
        self.accepted = False
        self.resume_at: Stage | None = None
        self.number_claim: DuplicateClaim | None = None
        self.chosen_supplier: int | None = None
        self.runner: StepRunner | None = None
        self.settings: ApSettings | None = None

    @workflow.run
    async def run(self, request: ApInvoiceInput) -> ApInvoiceResult:
        """Run the stages under the org's time limit, then report the outcome."""
        workflow.upsert_search_attributes(
            [
                ORG.value_set(request.org),
                PROCESS.value_set(PROCESS_NAME),
                INITIATOR.value_set(request.initiator.email),
            ]
        )
        self.flow.publish()
        policies: ProcessPolicies = await load_policies(request.org, PROCESS_NAME)
        self.flow.policies = policies
        settings = self.settings = self._settings(policies)
        self.runner = StepRunner(
            policies,
            RunContext(
                org=request.org,
                process=PROCESS_NAME,
                run_id=workflow.info().workflow_id,
                owner_email=request.initiator.email,
            ),
        )
        body = asyncio.create_task(self._stages(policies))
        try:
            await workflow.wait_condition(body.done, timeout=settings.time_limit)
        except TimeoutError:
            body.cancel()
            try:
                await body
            except asyncio.CancelledError:
                workflow.logger.info("stopped at %s by the time limit", self.invoice.stage)
            self._fail(
                StepFailure(
                    step=self.invoice.stage,
                    reason="TimeLimit",
                    details=f"the run passed its time limit of {settings.time_limit}",
                    criticality="high",
                )
            )
            await self._release_claim()
        else:
            body.result()
        return await self._finish(settings)

    # -- stages ------------------------------------------------------------------------------

    async def _stages(self, policies: ProcessPolicies) -> None:
        await self._record("store_invoice_manifest", self._manifest(), None)
        stage: Stage | None = "extract_invoice"
        while stage is not None and not self.flow.ended:
            current: Stage = stage
            self._enter(current)
            try:
                stage = await self._stage(current, policies)
            except StepFailed as failed:
                stage = await self._after_failure(current, failed.record)
        if self.flow.state.outcome in ("rejected", "failed", "expired"):
            await self._release_claim()

    def _enabled(self, policies: ProcessPolicies, step: str) -> bool:
        return policies.policy_for(step).enabled

    async def _stage(self, stage: Stage, policies: ProcessPolicies) -> Stage | None:
        """Run one stage; the stage that comes next (None: the run has its outcome)."""
        request = self.request
        if stage == "extract_invoice":
            self._take_invoice(await self._extract("extract_invoice", request.invoice_file))
            return "extract_po"
        if stage == "extract_po":
            if request.po_file and self._enabled(policies, stage):
                self.invoice.purchase_order = self._as_purchase_order(
                    await self._extract(stage, request.po_file, "purchase_order")
                )
            return "extract_grn"
        if stage == "extract_grn":
            if request.grn_file and self._enabled(policies, stage):
                self.invoice.goods_receipt = self._as_goods_receipt(
                    await self._extract(stage, request.grn_file, "goods_receipt")
                )
            return "fetch_po"
        if stage == "fetch_po":
            if self._enabled(policies, stage):
                await self._fetch_purchase_order()
            return "verify"
        if stage == "verify":
            if self._enabled(policies, stage):
                await self._verify()
            return "check_duplicate"
        if stage == "check_duplicate":
            if self._enabled(policies, stage) and await self._is_duplicate():
                return None
            return "review"
        if stage == "review":
            return "approve" if self.accepted or not self.invoice.findings else await self._review()
        if stage == "approve":
            await self._approve()
            return None if self.flow.ended else "post_to_erp"
        await self._post(policies)
        return None

    def _count(self, base: str) -> int:
        return sum(1 for task in self.flow.state.tasks if task.step.startswith(base))

    def _enter(self, stage: str) -> None:
        self.invoice.stage = stage
        self.flow.state.stage = stage
        self.flow.publish()

    async def _extract(self, step: str, key: str, kind: str = "invoice") -> ExtractedInvoice:
        runner = self._runner()
        result: ExtractedInvoice = await runner.execute(
            step,
            "extract_invoice",
            ExtractRequest.model_validate({"key": key, "kind": kind}),
            queue="documents",
            result_type=ExtractedInvoice,
        )
        return result

    def _take_invoice(self, extracted: ExtractedInvoice) -> None:
        self.invoice.invoice = extracted
        self._publish_invoice()

    def _publish_invoice(self) -> None:
        extracted = self.invoice.invoice
        if extracted is None:
            return
        fields = extracted.fields
        supplier = self.invoice.supplier.name if self.invoice.supplier else fields.supplier_name
        updates: list[Any] = [AMOUNT.value_set(float(invoice_amount(fields)))]
        if supplier:
            updates.append(SUPPLIER.value_set(supplier[:200]))
        if fields.invoice_number:
            updates.append(INVOICE_NUMBER.value_set(fields.invoice_number[:200]))
        workflow.upsert_search_attributes(updates)
        number = fields.invoice_number or "without a number"
        amount = f"{fields.total_amount} {fields.currency or ''}".strip()
        self.flow.summary = f"Invoice {number} from {supplier or 'an unknown supplier'}, {amount}"
        self.flow.state.details.update(
            invoice_number=fields.invoice_number,
            supplier=supplier,
            total_amount=str(fields.total_amount) if fields.total_amount is not None else None,
            currency=fields.currency,
            extraction=extracted.method,
        )

    @staticmethod
    def _as_purchase_order(extracted: ExtractedInvoice) -> PurchaseOrder:
        fields = extracted.fields
        return PurchaseOrder(
            number=fields.po_number or fields.invoice_number or "",
            supplier_name=fields.supplier_name,
            currency=fields.currency,
            total_amount=fields.subtotal if fields.subtotal is not None else fields.total_amount,
            lines=fields.line_items,
            source=extracted.method,
        )

    def _as_goods_receipt(self, extracted: ExtractedInvoice) -> GoodsReceipt:
        fields = extracted.fields
        order = self.invoice.purchase_order
        return GoodsReceipt(
            number=fields.invoice_number or "",
            po_number=fields.po_number or (order.number if order else ""),
            lines=fields.line_items,
            source=extracted.method,
        )

    def _fields(self) -> Any:
        extracted = self.invoice.invoice
        if extracted is None:
            raise ApplicationError("the invoice has not been read", non_retryable=True)
        return extracted.fields

    async def _fetch_purchase_order(self) -> None:
        number = self._fields().po_number
        if not number or (self.invoice.purchase_order and self.invoice.goods_receipt):
            return
        found: PurchaseOrderLookup = await self._runner().execute(
            "fetch_po",
            "fetch_purchase_order",
            PurchaseOrderQuery(org=self.request.org, po_number=number, with_goods_receipt=True),
            result_type=PurchaseOrderLookup,
        )
        self.invoice.purchase_order = self.invoice.purchase_order or found.purchase_order
        self.invoice.goods_receipt = self.invoice.goods_receipt or found.goods_receipt

    async def _verify(self, supplier_id: int | None = None) -> None:
        settings = self._settings_now()
        extracted = self.invoice.invoice
        assert extracted is not None
        result: Verification = await self._runner().execute(
            "verify",
            "verify_invoice",
            VerifyInvoice(
                request=VerifyRequest(
                    org=self.request.org,
                    transaction_id=self.request.transaction_id,
                    invoice=extracted,
                    purchase_order=self.invoice.purchase_order,
                    goods_receipt=self.invoice.goods_receipt,
                    sender=self.invoice.sender,
                    min_confidence=settings.min_confidence,
                    match_method=settings.match.method,
                    tolerances=settings.match.tolerances,
                ),
                supplier_id=supplier_id or self.chosen_supplier,
                required_fields=settings.required_fields,
            ),
            result_type=Verification,
        )
        self.invoice.supplier = result.supplier
        self.invoice.department = result.department
        self.invoice.findings = result.findings
        self.flow.state.details.update(
            findings=len(result.findings),
            matched=bool(result.match and result.match.matched),
            department=result.department,
        )
        self._publish_invoice()

    async def _is_duplicate(self) -> bool:
        """Claim (supplier, invoice number); a duplicate ends the run naming the first run."""
        fields = self._fields()
        if not fields.invoice_number:
            return False
        supplier = self.invoice.supplier
        supplier_key = (
            f"id:{supplier.id}"
            if supplier
            else f"name:{normalise_invoice_number(fields.supplier_name or '')}"
        )
        claim = DuplicateClaim(
            org=self.request.org,
            supplier_key=supplier_key,
            invoice_number=fields.invoice_number,
            transaction_id=self.request.transaction_id,
        )
        if self.number_claim is not None and self.number_claim != claim:
            await self._release_claim()
        check: DuplicateCheck = await self._runner().execute(
            "check_duplicate", "claim_invoice_number", claim, result_type=DuplicateCheck
        )
        if not check.duplicate:
            self.number_claim = claim
            return False
        first = check.first_transaction_id or "another run"
        self.invoice.duplicate_of = first
        self.flow.state.details.update(duplicate_of=first)
        self.flow.end(
            "duplicate",
            f"invoice {fields.invoice_number} from "
            f"{supplier.name if supplier else fields.supplier_name}"
            f" was already received as transaction {first}",
        )
        return True

    async def _review(self) -> Stage | None:
        """The exception step: a clerk corrects fields or the match, or accepts or rejects."""
        settings = self._settings_now()
        number = 1 + sum(
            1 for task in self.flow.state.tasks if task.step.startswith(EXCEPTION_STEP)
        )
        step = numbered(EXCEPTION_STEP, number)
        reasons: set[str] = {finding.kind for finding in self.invoice.findings}
        fields = self._fields()
        config = with_sla(
            settings,
            settings.exception,
            invoice_amount(fields),
            self.invoice.department or settings.default_department,
            reasons,
        )
        found = "; ".join(finding.message for finding in self.invoice.findings)[:500]
        self.flow.state.details.update(exception=found)
        self.resume_at = None
        summary = self.flow.summary
        self.flow.summary = f"{summary}. To check: {found}"
        task = await self.flow.run_step(step, config)
        self.flow.summary = summary
        if task.status == "rejected":
            self.flow.end("rejected", task.comment)
            return None
        if task.status != "approved":
            return None
        resume, self.resume_at = self.resume_at, None
        if resume is None:
            self.accepted = True
            return "approve"
        return resume

    async def _approve(self) -> None:
        settings = self._settings_now()
        fields = self._fields()
        needed_a_person = self.accepted or self._count(EXCEPTION_STEP) > 0
        if not self.invoice.findings and not needed_a_person and auto_approves(settings, fields):
            self.invoice.auto_approved = True
            self.flow.record("approve", "auto_approved", reason="clean, matched, under threshold")
            return
        reasons: set[str] = {finding.kind for finding in self.invoice.findings}
        done = sum(1 for task in self.flow.state.tasks if task.step.startswith(APPROVAL_STEP))
        for index, config in enumerate(
            approval_steps(settings, fields, self.invoice.department, reasons), start=1
        ):
            step = f"{APPROVAL_STEP}_{index}" if done == 0 else f"{APPROVAL_STEP}_{done + index}"
            task = await self.flow.run_step(step, config)
            if task.status == "rejected":
                self.flow.end("rejected", task.comment)
            if task.status != "approved":
                return

    async def _post(self, policies: ProcessPolicies) -> None:
        if not self._enabled(policies, "post_to_erp"):
            self.flow.end("approved", "approved; posting to the ERP is switched off")
            return
        fields = self._fields()
        supplier = self.invoice.supplier
        approvers = [
            task.decided_by.email
            for task in self.flow.state.tasks
            if task.step.startswith(APPROVAL_STEP) and task.decided_by is not None
        ]
        posted: ErpPosted = await self._runner().execute(
            "post_to_erp",
            "post_invoice_to_erp",
            ErpPosting(
                org=self.request.org,
                external_reference=self.request.transaction_id,
                supplier_id=supplier.id if supplier else None,
                supplier_name=supplier.name if supplier else fields.supplier_name or "",
                erp_vendor_id=supplier.erp_vendor_id if supplier else None,
                department=self.invoice.department,
                approved_by=approvers or ["auto-approved"],
                invoice=fields,
                working_folder=self.request.working_folder,
            ),
            result_type=ErpPosted,
        )
        self.invoice.posted = posted
        self.flow.state.details.update(erp_document_id=posted.erp_document_id)
        how = "automatically approved" if self.invoice.auto_approved else "approved"
        self.flow.end("posted", f"{how}; ERP document {posted.erp_document_id}")

    # -- failures ----------------------------------------------------------------------------

    async def _after_failure(self, stage: Stage, failure: StepFailure) -> Stage | None:
        """A broken document fails the run; a technical failure waits for an operator."""
        self.invoice.failures.append(failure)
        self.invoice.failed_stage = stage
        self._show_failure(failure)
        if failure.reason in DOCUMENT_ERRORS or (
            failure.reason in IMAGE_ERRORS and workflow.patched("image-errors-fail")
        ):
            self._fail(failure)
            return None
        settings = self._settings_now()
        number = 1 + self._count(OPERATOR_STEP)
        self.resume_at = None
        task = await self.flow.run_step(numbered(OPERATOR_STEP, number), settings.operator)
        if task.status == "rejected":
            self._fail(failure, f"an operator stopped the run: {task.comment}")
            return None
        if task.status != "approved":
            return None
        resume, self.resume_at = self.resume_at, None
        return resume or stage

    def _show_failure(self, failure: StepFailure) -> None:
        workflow.upsert_search_attributes([FAILURE_REASON.value_set(failure.reason)])
        self.flow.state.details.update(
            failure_step=failure.step,
            failure_reason=failure.reason,
            failure_details=failure.details[:500],
            failure_criticality=failure.criticality,
        )

    def _fail(self, failure: StepFailure, why: str | None = None) -> None:
        if failure not in self.invoice.failures:
            self.invoice.failures.append(failure)
        self._show_failure(failure)
        self.flow.end("failed", why or f"{failure.step}: {failure.reason}: {failure.details}")

    # -- records -----------------------------------------------------------------------------

    def _manifest(self) -> InvoiceManifest:
        request = self.request
        return InvoiceManifest(
            transaction_id=request.transaction_id,
            org=request.org,
            working_folder=request.working_folder,
            invoice_file=request.invoice_file,
            po_file=request.po_file,
            grn_file=request.grn_file,
            source=request.source,
            mail=request.mail,
            mail_body=request.mail_body,
            initiator_email=request.initiator.email,
        )

    async def _record(self, activity: str, arg: Any, result_type: type | None) -> Any:
        return await self._runner().execute(RECORD_STEP, activity, arg, result_type=result_type)

    async def _release_claim(self) -> None:
        claim, self.number_claim = self.number_claim, None
        if claim is None:
            return
        try:
            await self._record("release_invoice_claim", claim, None)
        except StepFailed as failed:
            workflow.logger.warning("could not release %s: %s", claim, failed.record.details)

    def _runner(self) -> StepRunner:
        assert self.runner is not None
        return self.runner

    def _settings_now(self) -> ApSettings:
        assert self.settings is not None
        return self.settings

    def _settings(self, policies: ProcessPolicies) -> ApSettings:
        """The template's settings; a broken template fails the run for good, saying why."""
        try:
            return ApSettings.model_validate(policies.settings)
        except ValidationError as error:
            raise ApplicationError(
                f"the ap_invoice template of {self.request.org} has invalid settings: {error}",
                type="InvalidTemplate",
                non_retryable=True,
            ) from error

    async def _finish(self, settings: ApSettings) -> ApInvoiceResult:
        state = self.flow.state
        if state.outcome is None:
            self.flow.end("failed", "the run stopped without an outcome")
        self.invoice.stage = "done"
        self.flow.publish()
        await self.flow.send_email(
            "request_completed",
            "completed",
            self.flow.recipients(settings.completed_recipients),
            state.stage,
            outcome=state.outcome,
            reason=state.outcome_reason,
            decided_by_name=", ".join(
                task.decided_by.name for task in state.tasks if task.decided_by is not None
            ),
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ApInvoiceResult(
            outcome=state.outcome or "failed",
            reason=state.outcome_reason,
            erp_document_id=self.invoice.posted.erp_document_id if self.invoice.posted else None,
            duplicate_of=self.invoice.duplicate_of,
        )

    # -- corrections and operator controls -------------------------------------------------

    def _apply(self, actor: Person, corrections: FieldCorrections) -> list[str]:
        """Lay a person's corrections over the extracted fields (confidence 1)."""
        extracted = self.invoice.invoice or ExtractedInvoice(method="manual")
        changed = corrections.model_dump(exclude_none=True)
        if not changed:
            return []
        fields = extracted.fields.model_copy(update=changed)
        confidence = {**extracted.confidence, **dict.fromkeys(changed, 1.0)}
        self.invoice.invoice = extracted.model_copy(
            update={"fields": fields, "confidence": confidence}
        )
        self.invoice.corrected_fields = sorted({*self.invoice.corrected_fields, *changed})
        self.flow.record(
            self.flow.state.stage, "corrected", actor=actor, reason=", ".join(sorted(changed))
        )
        self._publish_invoice()
        return sorted(changed)

    def _pending(self, bases: tuple[str, ...]) -> TaskView:
        task = self.flow.current
        if task is None or not task.step.startswith(bases):
            raise RequestRefused(
                "the run is not waiting in " + " or ".join(f"an {base} step" for base in bases)
            )
        return task

    def _check_operator(self, actor: Person, bases: tuple[str, ...]) -> TaskView:
        if actor.org != self.request.org:
            raise NotPermitted("this request belongs to another organisation")
        if self.flow.ended:
            raise RequestRefused(f"this request has already ended ({self.flow.state.outcome})")
        if not OPERATOR_ROLES.intersection(actor.roles):
            raise NotPermitted("only an operator can do this")
        return self._pending(bases)

    def _close_for(self, task: TaskView, actor: Person, kind: str, comment: str) -> None:
        """Settle the waiting task on a person's behalf; the run moves on."""
        task.status = "approved"
        task.decided_by = actor
        task.decided_at = workflow.now()
        task.comment = comment
        self.flow.record(task.step, kind, actor=actor, reason=comment)
        if comment.strip():
            self.flow.add_comment_record(actor, comment)
        self.flow.publish()

    def _correction_task(self, request: CorrectionRequest) -> TaskView:
        self._pending((EXCEPTION_STEP,))
        task = self.flow.check_decision(DecisionRequest(actor=request.actor, decision="approve"))
        if not request.fields.model_dump(exclude_none=True) and request.supplier_id is None:
            raise RequestRefused("a correction needs at least one field or the supplier")
        return task

    def _continue_task(self, request: ContinueRequest) -> TaskView:
        task = self._check_operator(request.actor, (EXCEPTION_STEP, OPERATOR_STEP))
        if self.invoice.invoice is None and request.stage != "extract_invoice":
            raise RequestRefused("the invoice has not been read yet; continue at extract_invoice")
        return task

    # -- handlers ----------------------------------------------------------------------------

    @workflow.query
    def invoice_view(self) -> InvoiceView:
        """The invoice as read and corrected, the checks, failures and posting."""
        return self.invoice.model_copy(update={"run": self.flow.state})

    @workflow.update
    def correct(self, request: CorrectionRequest) -> RunView:
        """The exception's holder corrects fields or the supplier; the run verifies again."""
        task = self._correction_task(request)
        self._apply(request.actor, request.fields)
        if request.supplier_id is not None:
            self.chosen_supplier = request.supplier_id
        self.resume_at = "verify"
        self.accepted = False
        self._close_for(task, request.actor, "corrected_and_resumed", request.comment)
        return self.flow.state

    @correct.validator
    def _check_correct(self, request: CorrectionRequest) -> None:
        self._correction_task(request)

    @workflow.update
    def continue_at(self, request: ContinueRequest) -> RunView:
        """An operator continues a waiting run at a named stage after a manual override."""
        task = self._continue_task(request)
        self._apply(request.actor, request.fields)
        self.resume_at = request.stage
        self.accepted = request.stage in ("approve", "post_to_erp")
        self._close_for(task, request.actor, f"continued_at_{request.stage}", request.comment)
        return self.flow.state

    @continue_at.validator
    def _check_continue(self, request: ContinueRequest) -> None:
        self._continue_task(request)

    @workflow.update
    def retry_step(self, request: RetryRequest) -> RunView:
        """An operator runs the failed step again."""
        task = self._check_operator(request.actor, (OPERATOR_STEP,))
        self.resume_at = None
        self._close_for(task, request.actor, "retried", request.comment)
        return self.flow.state

    @retry_step.validator
    def _check_retry(self, request: RetryRequest) -> None:
        self._check_operator(request.actor, (OPERATOR_STEP,))
