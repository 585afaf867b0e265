"""Shared code of the host tools: Python 3.11 standard library only (DESIGN decision 7)."""
