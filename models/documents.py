"""Payloads of document work: files travel as storage keys, never as bytes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StoredDocument(BaseModel):
    """A document in object storage."""

    key: str = Field(min_length=1, max_length=1024)


class PdfFacts(BaseModel):
    """What a first look at a PDF tells: pages, text layer, encryption, embedded files."""

    pages: int
    text_characters: int
    has_text_layer: bool
    encrypted: bool
    embedded_files: list[str] = Field(default_factory=list)
