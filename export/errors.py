"""Conversion failures: a tool could not produce a faithful artifact (not the user's fault)."""
from __future__ import annotations


class ConversionError(Exception):
    """A converter failed or its result did not check out; printed as one line, exit code 1."""


class FidelityError(ConversionError):
    """An int8 export whose masks agree with fp32's less than the floor (--min-agreement) asks."""


def describe_error(err: BaseException) -> str:
    """`Type: first line of the message`, for one-line reports."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
