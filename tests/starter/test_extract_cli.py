"""`python -m starter.extract FILE...` prints one JSON line per file and fails if any file did."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.corpus import CORPUS

REPO = Path(__file__).resolve().parents[2]
FACTUR_X = CORPUS / "zugferd" / "XML-Rechnung_FX_EN16931_Rabatte.pdf"


def _run(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "starter.extract", *map(str, files)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_each_file_gives_a_json_line_and_a_failure_sets_the_exit_code(tmp_path: Path) -> None:
    not_a_pdf = tmp_path / "notes.docx"
    not_a_pdf.write_bytes(b"PK\x03\x04 not a pdf")
    result = _run(FACTUR_X, not_a_pdf)

    read, failed = (json.loads(line) for line in result.stdout.splitlines())
    assert result.returncode == 1
    assert read["file"] == str(FACTUR_X)
    assert (read["invoice_number"], read["invoice_date"], read["currency"]) == (
        "471102",
        "2018-06-05",
        "EUR",
    )
    assert (read["total_amount"], read["tax_amount"], read["po_number"]) == (
        215.07,
        21.3,
        "2013-471331",
    )
    assert read["line_items"][1] == {
        "description": "Schweinesteak",
        "quantity": 5,
        "unit_price": 5.5,
        "line_total": 27.5,
        "tax_rate": 7,
    }
    assert (read["method"], read["confidence"]["total_amount"]) == ("embedded_xml", 1.0)
    assert failed == {
        "file": str(not_a_pdf),
        "error": "the file is not a PDF, a PNG or JPEG image, or an e-invoice XML",
        "reason": "NotAPdf",
    }


def test_all_files_read_exit_zero() -> None:
    result = _run(CORPUS / "invoice2data" / "oyo.pdf")
    [line] = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    record = json.loads(line)
    assert record["method"] == "text"
    assert set(record) >= {"invoice_number", "total_amount", "line_items", "confidence"}
