"""The corpus scoring rules score fields and line items as the corpus README says."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bench.corpus_scoring import (
    fields_as_corpus_dict,
    line_items_found,
    load_corpus,
    normalise_code,
    normalise_name,
    score_fields,
)
from models.invoices import ExtractedInvoice, InvoiceFields, LineItem
from tests.corpus import CORPUS


def test_normalise_code_drops_case_spaces_and_punctuation() -> None:
    assert normalise_code("INV/2023/03-0008 a") == "inv2023030008a"
    assert normalise_code("#BLR_WFLD 2015") == "blrwfld2015"


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("Coolblue B.V.", "coolblue"),
        ("Metallbau Leipzig GmbH & Co. KG", "metallbau leipzig"),
        ("QualityHosting AG", "qualityhosting"),
        ("Global Supplies Ltd.", "global supplies"),
        ("Au bon moulin SARL", "au bon moulin"),
        ("Hôtel Saint-Denis", "hôtel saintdenis"),
        ("Acme Pvt. Ltd", "acme"),
        ("Muster e.K.", "muster"),
    ],
)
def test_normalise_name_drops_legal_forms(name: str, normalised: str) -> None:
    assert normalise_name(name) == normalised


def test_score_fields_applies_each_rule() -> None:
    expected = {
        "invoice_number": "INV/2023/0008",
        "invoice_date": "2023-03-20",
        "due_date": "2023-04-04",
        "supplier_name": "GLN 4333741000005\nMUSTERLIEFERANT GMBH",
        "buyer_name": "Kunden AG Mitte",
        "currency": "EUR",
        "total_amount": 279.84,
        "tax_amount": 16.94,
        "subtotal": -7.9,
        "po_number": "2013-471331",
    }
    got = {
        "invoice_number": "inv 2023 0008",
        "invoice_date": "2023-03-20",
        "due_date": date(2023, 4, 5),
        "supplier_name": "Musterlieferant GmbH",
        "buyer_name": "Kunden AG",
        "currency": "eur",
        "total_amount": "279.844",
        "tax_amount": 16.93,
        "subtotal": Decimal("-7.90"),
        "po_number": None,
    }
    assert score_fields(expected, None, got) == {
        "invoice_number": True,
        "invoice_date": True,
        "due_date": False,
        "supplier_name": True,
        "buyer_name": True,
        "currency": True,
        "total_amount": True,
        "tax_amount": False,
        "subtotal": True,
        "po_number": False,
    }


def test_score_fields_scores_only_visible_fields() -> None:
    expected = {"invoice_number": "42", "po_number": "444", "currency": "USD"}
    visible = {"invoice_number": True, "po_number": False}
    assert score_fields(expected, visible, {"invoice_number": "42"}) == {"invoice_number": True}


def test_an_empty_name_matches_nothing() -> None:
    assert score_fields({"supplier_name": "Lieferant GmbH"}, None, {"supplier_name": "GmbH"}) == {
        "supplier_name": False
    }


def test_line_items_found_matches_description_and_total_once() -> None:
    expected = [
        {"description": "Gelierzucker Extra 250g", "line_total": 72.5},
        {"description": "Gelierzucker Extra 250g", "line_total": 0.0},
        {"description": "Mineralwasser Medium\n12 x 1,0l PET", "line_total": 109.8},
        {"description": "GTIN 4123", "line_total": 5, "_description_visible": False},
        {"description": "Luftballon", "line_total": 376.04, "_line_total_visible": False},
    ]
    got: list[dict[str, object]] = [
        {"description": "Gelierzucker Extra 250g", "line_total": "72.50"},
        {"description": "Mineralwasser Medium 12 x 1,0l", "line_total": 109.8},
        {"description": "Gelierzucker extra 250g (Aktion)", "line_total": 72.5},
    ]
    assert line_items_found(expected, got) == (2, 3)


def test_fields_as_corpus_dict_has_the_corpus_shape() -> None:
    extracted = ExtractedInvoice(
        fields=InvoiceFields(
            invoice_number="471102",
            invoice_date=date(2018, 6, 5),
            total_amount=Decimal("215.07"),
            line_items=[LineItem(description="Pfand", line_total=Decimal("55.40"))],
        )
    )
    corpus = fields_as_corpus_dict(extracted)
    assert corpus["invoice_date"] == "2018-06-05"
    assert corpus["total_amount"] == pytest.approx(215.07)
    assert corpus["due_date"] is None
    assert corpus["line_items"][0]["line_total"] == pytest.approx(55.4)
    assert json.dumps(corpus)


def test_load_corpus_pairs_pdfs_with_their_truth(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    truth = {
        "expected": {"invoice_number": "1"},
        "visible_in_text_layer": {"invoice_number": True},
        "line_items": [{"description": "x", "line_total": 1}],
    }
    (tmp_path / "a.expected.json").write_text(json.dumps(truth), encoding="utf-8")
    (tmp_path / "orphan.expected.json").write_text(json.dumps(truth), encoding="utf-8")
    (document,) = load_corpus(tmp_path)
    assert (document.name, document.pdf) == ("a", tmp_path / "a.pdf")
    assert document.expected == {"invoice_number": "1"}
    assert document.visible == {"invoice_number": True}
    assert document.line_items == [{"description": "x", "line_total": 1}]


def test_load_corpus_reads_the_kept_corpus() -> None:
    documents = load_corpus(CORPUS / "zugferd-text")
    assert len(documents) == len(list((CORPUS / "zugferd-text").glob("*.pdf"))) == 12
    assert all(document.pdf.is_file() and document.expected for document in documents)
