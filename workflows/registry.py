"""Every workflow type the product runs, for the workers and the replay tests."""

from __future__ import annotations

from workflows.ap_invoice import ApInvoiceWorkflow
from workflows.leave_request import LeaveRequestWorkflow
from workflows.mail_check import MailCheckWorkflow

WORKFLOWS: list[type] = [MailCheckWorkflow, LeaveRequestWorkflow, ApInvoiceWorkflow]
