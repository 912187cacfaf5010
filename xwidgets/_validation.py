"""Boundary checks whose messages name the argument, what was expected and what came."""

from __future__ import annotations

from typing import Any


class Described(str):
    """Text that already describes a value: shown as is in error messages."""


def describe(value: Any) -> str:
    """A short description of a value for error messages (type, shape, dtype)."""
    if isinstance(value, Described):
        return str(value)
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of length {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def bad_argument(argument: str, expected: str, got: Any, hint: str = "") -> ValueError:
    """A ValueError of the form "<argument>: expected <expected>; got <got>. <hint>"."""
    message = f"{argument}: expected {expected}; got {describe(got)}"
    if hint:
        message += f". {hint}"
    return ValueError(message)
