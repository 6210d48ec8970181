"""Invoice extraction: embedded e-invoices, text layers and OCR, run in a sandboxed process."""
