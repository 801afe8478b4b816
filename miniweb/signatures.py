"""Checking handler and hook signatures when they are registered, and typed URL parameters.

A handler, hook or errorhandler whose signature cannot take the arguments miniweb passes would make every
request a 500 with the ``TypeError`` only in the log; so the signature is tried (``Signature.bind``) when
the function is registered and a wrong one is a ``TypeError`` there, saying how it will be called.

Typed parameters: the regex says *where* a value is, the handler's annotation says *what* it is::

    @app.route(r"/items/(?P<n>[0-9]+)")
    def item(request, n: int): ...          # n arrives as an int; "/items/٣" (an Arabic digit) is a 404

``int``, ``float``, ``uuid.UUID`` and ``str`` (or none) are understood, also as ``X | None`` for an
optional group. The converters are chosen once, here; a route without typed groups costs nothing per
request. Converters are strict (ASCII digits, no spaces or underscores, finite floats) so one value has
one spelling, and ``url_for`` can check a value it is given with the same function.
"""

from __future__ import annotations

import inspect
import math
import re
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["Converter", "RouteConverters", "check_hook", "route_converters"]

Converter = Callable[[str], Any]
#: (converter per positional group, None for str; converters of the named groups that have one), or None
RouteConverters = tuple[tuple[Converter | None, ...], dict[str, Converter]]

_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def to_int(value: str) -> int:
    """``"42"``, ``"-7"`` -> int; anything else (``" 4"``, ``"1_0"``, ``"٣"``, ``"+5"``) -> ValueError."""
    digits = value[1:] if value[:1] == "-" else value
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"not an integer: {value!r}")
    return int(value)  # more than 4,300 digits is a ValueError too (CPython's int limit)


def to_float(value: str) -> float:
    """``"1.5"``, ``"-2"``, ``"1e3"`` -> float; ``"nan"``, ``"inf"``, ``"1e999"``, ``" 1"`` -> ValueError."""
    if _FLOAT.fullmatch(value) is None:
        raise ValueError(f"not a number: {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return number


_CONVERTERS: dict[Any, Converter | None] = {
    inspect.Parameter.empty: None,
    str: None,
    Any: None,
    int: to_int,
    float: to_float,
    uuid.UUID: uuid.UUID,
}


def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None  # a builtin or extension callable: nothing to check


def _describe(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)


def check_hook(func: Callable[..., Any], what: str, call: str) -> None:
    """Refuse ``func`` unless it can be called with the arguments of ``call`` (e.g. ``"hook(request)"``)."""
    if not callable(func):
        raise TypeError(f"{what} needs a function, got {type(func).__name__}")
    signature = _signature(func)
    if signature is None:
        return
    count = call.count(",") + 1
    try:
        signature.bind(*([None] * count))
    except TypeError as exc:
        raise TypeError(
            f"{what} {_describe(func)}{signature} cannot be called as {call}: {exc}. "
            f"miniweb passes the request explicitly, e.g. def {call.replace('hook', 'my_hook')}: ..."
        ) from None


def _resolve(func: Callable[..., Any], annotation: Any) -> Any:
    """A parameter's annotation as an object (``from __future__ import annotations`` leaves strings)."""
    if not isinstance(annotation, str):
        return annotation
    namespace = getattr(inspect.unwrap(func), "__globals__", {})
    try:
        return eval(annotation, dict(namespace))  # noqa: S307 - the app's own source text, at registration
    except Exception as exc:
        raise TypeError(f"cannot resolve the annotation {annotation!r} of {_describe(func)}: {exc}") from None


def _converter(func: Callable[..., Any], parameter: inspect.Parameter, pattern: str) -> Converter | None:
    annotation = _resolve(func, parameter.annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        others = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(others) == 1:
            annotation = others[0]  # "int | None" for an optional group: None stays None
    try:
        return _CONVERTERS[annotation]
    except (KeyError, TypeError):
        raise TypeError(
            f"{_describe(func)}: parameter {parameter.name!r} takes a group of {pattern!r} but is annotated "
            f"{parameter.annotation!r}; URL groups can be int, float, uuid.UUID or str"
        ) from None


def route_converters(
    handler: Callable[..., Any], pattern: str, positional: int, named: list[str]
) -> RouteConverters | None:
    """Check that ``handler(request, *positional groups, **named groups)`` binds; its typed converters.

    Returns None when no group is typed (the common case), so matching does no extra work.
    """
    if not callable(handler):
        raise TypeError(f"a route handler must be callable, got {type(handler).__name__}")
    signature = _signature(handler)
    if signature is None:
        return None
    markers = [object() for _ in range(positional)]
    try:
        bound = signature.bind(None, *markers, **dict.fromkeys(named, ""))
    except TypeError as exc:
        groups = ["request"] + [f"group{i + 1}" for i in range(positional)] + [f"{n}=..." for n in named]
        raise TypeError(
            f"handler {_describe(handler)}{signature} cannot take the groups of {pattern!r}: it is called "
            f"as {getattr(handler, '__name__', 'handler')}({', '.join(groups)}) ({exc})"
        ) from None
    params = signature.parameters
    by_marker: dict[int, inspect.Parameter] = {}
    for name, value in bound.arguments.items():
        if params[name].kind in (params[name].POSITIONAL_ONLY, params[name].POSITIONAL_OR_KEYWORD):
            by_marker[id(value)] = params[name]
    positional_converters = tuple(
        _converter(handler, by_marker[id(marker)], pattern) if id(marker) in by_marker else None
        for marker in markers
    )
    named_converters: dict[str, Converter] = {}
    for name in named:
        parameter = params.get(name)
        if parameter is not None and parameter.kind is not parameter.VAR_KEYWORD:
            converter = _converter(handler, parameter, pattern)
            if converter is not None:
                named_converters[name] = converter
    if not named_converters and not any(positional_converters):
        return None
    return positional_converters, named_converters
