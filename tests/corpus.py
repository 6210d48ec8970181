"""Where the tests find their invoice corpus: a subset kept in the repository."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).parent / "fixtures" / "invoice-corpus"
