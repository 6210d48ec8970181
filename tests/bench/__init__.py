"""Smoke tests of the benchmark building blocks."""
