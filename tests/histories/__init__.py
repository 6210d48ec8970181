"""Recorded workflow histories that every change must still replay."""
