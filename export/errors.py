"""Conversion failures: a tool could not produce a faithful artifact (not the user's fault)."""
from __future__ import annotations


class ConversionError(Exception):
    """A converter failed or its result did not check out; printed as one line, exit code 1."""
