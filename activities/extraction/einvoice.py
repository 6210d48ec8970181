"""E-invoices a PDF carries as XML attachments (Factur-X / ZUGFeRD, XRechnung), read into fields."""

from __future__ import annotations

import logging
import zlib
from typing import Any

from pdfminer.pdfdocument import PDFDocument
from pdfminer.pdftypes import PDFStream, resolve1
from pdfminer.psparser import PSException
from pdfminer.utils import decode_text

from activities.extraction.einvoice_xml import UnreadableEInvoice, invoice_from_xml
from models.invoices import ExtractedInvoice

logger = logging.getLogger(__name__)

PREFERRED_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")
"""Attachment names the e-invoice standards give their XML (compared without case)."""
MAX_XML_BYTES = 20 * 1024 * 1024
MAX_ATTACHMENTS = 200
MAX_NAME_TREE_DEPTH = 16

__all__ = ["PREFERRED_NAMES", "UnreadableEInvoice", "attachments", "embedded_invoice"]


def embedded_invoice(document: PDFDocument) -> tuple[ExtractedInvoice | None, list[str]]:
    """The e-invoice among the PDF's XML attachments, if any, and why other attachments were not."""
    warnings: list[str] = []
    for name, stream in _xml_attachments(document):
        try:
            invoice = invoice_from_xml(_attachment_bytes(stream))
        except UnreadableEInvoice as error:
            logger.info("attachment %s is not a usable e-invoice: %s", name, error)
            warnings.append(f"the attachment {name} is not a usable e-invoice: {error}")
            continue
        invoice.warnings[:0] = warnings
        return invoice, []
    return None, warnings


def attachments(document: PDFDocument) -> list[tuple[str, PDFStream]]:
    """The PDF's embedded files by name: its EmbeddedFiles name tree, else the catalog's /AF."""
    specs = _name_tree_values(document.catalog.get("Names"), "EmbeddedFiles")
    if not specs:
        specs = [resolve1(spec) for spec in _as_list(document.catalog.get("AF"))]
    found: list[tuple[str, PDFStream]] = []
    for spec in specs[:MAX_ATTACHMENTS]:
        named = _file_of_spec(spec)
        if named is not None:
            found.append(named)
    return found


def _xml_attachments(document: PDFDocument) -> list[tuple[str, PDFStream]]:
    xml = [(name, stream) for name, stream in attachments(document) if _is_xml_name(name)]

    def rank(item: tuple[str, PDFStream]) -> int:
        name = item[0].rsplit("/", 1)[-1].casefold()
        return PREFERRED_NAMES.index(name) if name in PREFERRED_NAMES else len(PREFERRED_NAMES)

    return sorted(xml, key=rank)


def _is_xml_name(name: str) -> bool:
    return name.casefold().endswith(".xml")


def _attachment_bytes(stream: PDFStream) -> bytes:
    try:
        data = stream.get_data()
    except (PSException, ValueError, TypeError, KeyError, zlib.error) as error:
        raise UnreadableEInvoice(f"its stream cannot be decoded ({error})") from error
    if len(data) > MAX_XML_BYTES:
        raise UnreadableEInvoice(f"it is {len(data)} bytes, more than {MAX_XML_BYTES}")
    return bytes(data)


def _name_tree_values(names: Any, tree: str) -> list[Any]:
    """The values of one name tree of the catalog's /Names (Kids followed, cycles ignored)."""
    root = resolve1(names)
    if not isinstance(root, dict):
        return []
    values: list[Any] = []
    pending: list[tuple[Any, int]] = [(resolve1(root.get(tree)), 0)]
    seen: set[int] = set()
    while pending and len(values) < MAX_ATTACHMENTS:
        node, depth = pending.pop()
        if not isinstance(node, dict) or id(node) in seen or depth > MAX_NAME_TREE_DEPTH:
            continue
        seen.add(id(node))
        pairs = _as_list(node.get("Names"))
        values.extend(resolve1(value) for value in pairs[1::2])
        pending.extend((resolve1(kid), depth + 1) for kid in reversed(_as_list(node.get("Kids"))))
    return values


def _file_of_spec(spec: Any) -> tuple[str, PDFStream] | None:
    if not isinstance(spec, dict):
        return None
    files = resolve1(spec.get("EF"))
    if not isinstance(files, dict):
        return None
    stream = resolve1(files.get("UF") or files.get("F"))
    if not isinstance(stream, PDFStream):
        return None
    return _spec_name(spec), stream


def _spec_name(spec: dict[str, Any]) -> str:
    for key in ("UF", "F"):
        value = resolve1(spec.get(key))
        if isinstance(value, bytes):
            return decode_text(value)
        if isinstance(value, str):
            return value
    return "unnamed"


def _as_list(value: Any) -> list[Any]:
    resolved = resolve1(value)
    return list(resolved) if isinstance(resolved, list) else []
