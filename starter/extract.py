"""Reads invoices out of files and prints one JSON object per file and line.

`python -m starter.extract FILE...` runs each file through the same sandboxed extraction the
`extract_invoice` activity uses. A line holds `file`, the header fields (amounts as numbers, dates
as `YYYY-MM-DD`), `line_items`, `method`, `confidence`, `pages` and `warnings`; a file that
cannot be read gives `{"file": ..., "error": ..., "reason": ...}` and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.exceptions import ApplicationError

from activities.documents import MAX_PDF_BYTES
from activities.extraction.pipeline import file_too_large
from activities.extraction.sandbox import ExtractionLimits, extract_in_sandbox
from models.invoices import HEADER_FIELDS, ExtractedInvoice

logger = logging.getLogger(__name__)

LINE_ITEM_FIELDS = ("description", "quantity", "unit_price", "line_total", "tax_rate")


def extraction_record(file: str, invoice: ExtractedInvoice) -> dict[str, Any]:
    """One output line: the file, its fields in the corpus's schema, and how they were read."""
    fields = invoice.fields
    return {
        "file": file,
        **{name: _plain(getattr(fields, name)) for name in HEADER_FIELDS},
        "line_items": [
            {name: _plain(getattr(item, name)) for name in LINE_ITEM_FIELDS}
            for item in fields.line_items
        ],
        "method": invoice.method,
        "confidence": invoice.confidence,
        "pages": invoice.pages,
        "warnings": invoice.warnings,
    }


def _plain(value: object) -> object:
    """A value as plain JSON: amounts as numbers, dates as ISO strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def extract_file(path: Path, limits: ExtractionLimits) -> dict[str, Any]:
    """The output line for one file, or its error line."""
    try:
        size = path.stat().st_size
        if size > MAX_PDF_BYTES:
            raise file_too_large(size)
        invoice = extract_in_sandbox(path.read_bytes(), "invoice", limits)
    except ApplicationError as error:
        return {"file": str(path), "error": error.message, "reason": error.type}
    except OSError as error:
        return {
            "file": str(path),
            "error": f"cannot read the file: {error.strerror}",
            "reason": "UnreadableFile",
        }
    return extraction_record(str(path), invoice)


def main(argv: Sequence[str] | None = None) -> int:
    """Extract each file named on the command line; 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    defaults = ExtractionLimits()
    parser.add_argument("--cpu-seconds", type=int, default=defaults.cpu_seconds)
    parser.add_argument("--memory-mb", type=int, default=defaults.memory_mb)
    parser.add_argument("--wall-seconds", type=float, default=defaults.wall_seconds)
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    limits = ExtractionLimits(
        cpu_seconds=options.cpu_seconds,
        memory_mb=options.memory_mb,
        wall_seconds=options.wall_seconds,
    )
    failed = 0
    for path in options.files:
        record = extract_file(path, limits)
        failed += "error" in record
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    if failed:
        logger.warning("%s of %s files could not be read", failed, len(options.files))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
