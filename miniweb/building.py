"""Building a route's URL back from values (``url_for``): the plan worked out once per route.

At registration a route's reverse template (``patterns.reverse_template``: literal text and group slots)
becomes a ``UrlPlan``: the literal text between the groups, percent-encoded once; each group's name and
converter. A call then only has to turn its values into text, check them and join the pieces.

Two ways through, giving the same answers:
- ``build_general`` is the reference: any mix of positional and keyword values, any number of groups.
  Every value is checked twice: by the handler's converter (``int``, ``float``, ``UUID``) and by the
  route's own regex, which must match the joined path and give back exactly these values as its groups
  (``/a/([^/]+)-([^/]+)`` with ``"x", "y-z"`` would route to ``"x-y", "z"``: refused).
- The fast path takes the common calls (routes with one or two groups; values all positional, or all
  by name) with the same checks and no per-call bookkeeping. It only ever *succeeds*: for anything it
  does not take, or any value that fails a check, it hands the call to ``build_general``, which then
  gives the answer or raises the ``BuildError``. Tests compare both over every route shape. A path it
  built from str or int values is kept by those values (``BUILT_PATHS`` per route at most), so a link a
  page makes again is a dict lookup: the checks depend on nothing but the values and the route.

``quote_arg`` and ``query_string`` are exact, cheaper spellings of ``urllib.parse.quote(text, safe="")``
and ``urlencode(query, doseq=True, quote_via=quote)``: tests compare them with those on adversarial text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from . import patterns

__all__ = ["BuildError", "FastBuild", "UrlPlan", "PATH_SAFE", "quote_arg", "query_string", "static_fast"]

#: The characters a path may carry unescaped (RFC 3986 §3.3 pchar, plus "/").
PATH_SAFE = "/:@!$&'()*+,;=-._~"
# What quote() never escapes (urllib.parse's _ALWAYS_SAFE): letters, digits and "_.-~".
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
# Byte (as a latin-1 character) -> its %XX escape, for every byte quote(text, safe="") escapes.
_ESCAPES = {byte: f"%{byte:02X}" for byte in range(256) if byte not in _UNRESERVED}


#: How many paths each route's fast path keeps, by value (str and int values only: 1, 1.0 and True are
#: equal keys with different URLs). Past it, paths are built each time, not kept: the memory stays
#: bounded whatever values an app builds URLs from.
BUILT_PATHS = 1024
_KEYS = (str, int)


class BuildError(ValueError):
    """``url_for`` could not build a URL: unknown name, wrong arguments, or a value the route rejects."""


def quote_arg(text: str) -> str:
    """``quote(text, safe="")``: one opaque URL component, "/" and "?" escaped too (UTF-8, strict).

    One ``str.translate`` over the UTF-8 bytes (as latin-1 characters) instead of a Python call per byte.
    """
    if text.isascii():
        return text if text.isalnum() else text.translate(_ESCAPES)
    return text.encode("utf-8").decode("latin-1").translate(_ESCAPES)


def query_string(query: dict[str, Any]) -> str | None:
    """``urlencode(query, doseq=True, quote_via=quote)`` with None values left out, or None if every
    value is None (no "?" at all). str and int values (the usual ones) go without urlencode's per-item
    type tests (an int costs it a caught TypeError), anything else through urlencode itself."""
    parts = []
    empty = True
    for key, value in query.items():
        if value is None:
            continue
        empty = False
        kind = type(value)
        if kind is str and type(key) is str:
            parts.append(f"{quote_arg(key)}={quote_arg(value)}")
        elif kind is int and type(key) is str:
            parts.append(f"{quote_arg(key)}={value}")  # digits and "-": nothing to escape
        else:  # bytes, sequences, floats...: urlencode's own rules
            item = urlencode([(key, value)], doseq=True, quote_via=quote)
            if item:  # an empty sequence gives nothing, as in urlencode
                parts.append(item)
    return None if empty else "&".join(parts)


#: ``fast(args, kwargs)``: the URL of ``url_for(name, *args, **kwargs)`` (path, and the query from
#: ``kwargs``, which it leaves as they are; None: path only), or None to let the general path answer.
FastBuild = Callable[[tuple[Any, ...], "dict[str, Any] | None"], "str | None"]


def _with_query(path: str, kwargs: dict[str, Any]) -> str:
    query = query_string(kwargs)
    return path if query is None else f"{path}?{query}"


def static_fast(path: str) -> FastBuild:
    """The fast build of a route without groups: its path, plus the query."""

    def fast(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> str | None:
        if args:
            return None  # extra arguments: the general path says so
        return _with_query(path, kwargs) if kwargs else path

    return fast


class UrlPlan:
    """How to build one route's path; made once, when the route is created."""

    __slots__ = ("name", "pattern", "regex", "steps", "count", "names", "slot_names", "by_name", "fast")

    def __init__(
        self,
        name: str,
        pattern: str,
        regex: re.Pattern[str],
        template: list[str | patterns.Slot],
        converters: list[Any],
    ) -> None:
        """``template`` from ``patterns.reverse_template``; ``converters``: one per slot, or None."""
        self.name, self.pattern, self.regex = name, pattern, regex
        # The general path's steps: (literal, its percent-encoding, None) or (slot, None, converter).
        self.steps: list[tuple[str | patterns.Slot, str | None, Any]] = []
        raw, slots = [""], []
        for piece in template:
            if isinstance(piece, str):
                self.steps.append((piece, quote(piece, safe=PATH_SAFE), None))
                raw[-1] += piece
            else:
                self.steps.append((piece, None, converters[len(slots)]))
                slots.append(piece)
                raw.append("")
        self.count = len(slots)
        self.names = tuple(slot.name for slot in slots)
        self.slot_names = frozenset(n for n in self.names if n is not None)
        #: Every group is named: the values may all come by keyword.
        self.by_name = bool(slots) and len(self.slot_names) == self.count
        # The fast path needs the regex's groups to be exactly the slots (reverse_template ensures it).
        self.fast: FastBuild | None = None
        if self.count in (1, 2) and regex.groups == self.count:
            make = _fast_one if self.count == 1 else _fast_two
            self.fast = make(regex, raw, [quote(text, safe=PATH_SAFE) for text in raw], converters,
                             self.slot_names)  # fmt: skip

    def build(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The percent-encoded path; the values used are taken out of ``kwargs`` (the rest: the query)."""
        fast = self.fast
        if fast is not None:
            if len(args) == self.count and (not kwargs or self.slot_names.isdisjoint(kwargs)):
                path = fast(args, None)
                if path is not None:
                    return path
            elif not args and self.by_name and kwargs.keys() >= self.slot_names:
                path = fast(tuple(kwargs[name] for name in self.names), None)  # type: ignore[index]
                if path is not None:
                    for name in self.names:
                        del kwargs[name]  # type: ignore[arg-type]
                    return path
        return self.build_general(args, kwargs)

    def build_general(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The reference: any values, any number of groups; raises ``BuildError`` saying what is wrong."""
        positional = list(args)
        raw: list[str] = []
        encoded: list[str] = []
        values: list[str] = []
        for piece, quoted, convert in self.steps:
            if quoted is not None:  # literal text, percent-encoded once at registration
                raw.append(piece)  # type: ignore[arg-type]
                encoded.append(quoted)
                continue
            if piece.name is not None and piece.name in kwargs:  # type: ignore[union-attr]
                value = kwargs.pop(piece.name)  # type: ignore[union-attr]
            elif positional:
                value = positional.pop(0)
            else:
                what = piece.name or "a group"  # type: ignore[union-attr]
                raise BuildError(f"route {self.name!r} ({self.pattern}) needs a value for {what}")
            value = str(value)  # 3, 1.5, UUID(...) -> their one spelling, checked below
            if convert is not None:
                try:
                    convert(value)
                except ValueError:
                    raise BuildError(
                        f"route {self.name!r} ({self.pattern}) cannot take {value!r} for "
                        f"{piece.name or 'a group'}: the handler wants {convert.__name__}"  # type: ignore[union-attr]
                    ) from None
            values.append(value)
            raw.append(value)
            # Each value is one opaque argument: "/" and "?" inside it must be escaped too.
            encoded.append(value if value.isascii() and value.isalnum() else quote(value, safe=""))
        if positional:
            raise BuildError(f"route {self.name!r} ({self.pattern}) got {len(positional)} extra argument(s)")
        match = self.regex.fullmatch("".join(raw))
        if match is None or list(match.groups()) != values:
            raise BuildError(f"values {values!r} do not match route {self.name!r} ({self.pattern})")
        return "".join(encoded)


def _fast_one(
    regex: re.Pattern[str], raw: list[str], encoded: list[str], converters: list[Any], names: frozenset[str]
) -> FastBuild:
    """The fast build of a route with one group: its value positional, and checked as in the general
    path (converter, then the route's regex over the whole path)."""
    fullmatch = regex.fullmatch
    (before, after), (encoded_before, encoded_after), (convert,) = raw, encoded, converters
    (name,) = names or (None,)

    built: dict[str | int, str] = {}  # a str or int value seen before -> its path

    def fast(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> str | None:
        if len(args) != 1 or (kwargs and name in kwargs):
            return None
        value = args[0]
        kind = type(value)
        path = built.get(value) if kind is str or kind is int else None
        if path is None:
            text = value if kind is str else str(value)
            if convert is not None:
                try:
                    convert(text)
                except ValueError:
                    return None
            match = fullmatch(f"{before}{text}{after}")
            if match is None or match.group(1) != text:
                return None
            if not (text.isascii() and text.isalnum()):
                text = quote_arg(text)
            path = f"{encoded_before}{text}{encoded_after}"
            if (kind is str or kind is int) and len(built) < BUILT_PATHS:
                built[value] = path
        return _with_query(path, kwargs) if kwargs else path

    return fast


def _fast_two(
    regex: re.Pattern[str], raw: list[str], encoded: list[str], converters: list[Any], names: frozenset[str]
) -> FastBuild:
    """The fast build of a route with two groups, as ``_fast_one``; the regex must give both values back
    as they were (``/a/([^/]+)-([^/]+)`` with ``"x", "y-z"`` would route to ``"x-y", "z"``)."""
    fullmatch = regex.fullmatch
    (before, middle, after), (encoded_before, encoded_middle, encoded_after) = raw, encoded
    convert_one, convert_two = converters

    built: dict[tuple[str | int, str | int], str] = {}  # str or int values seen before -> their path

    def fast(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> str | None:
        if len(args) != 2 or (kwargs and names and not names.isdisjoint(kwargs)):
            return None
        one, two = args
        keyable = type(one) in _KEYS and type(two) in _KEYS
        path = built.get(args) if keyable else None  # type: ignore[call-overload]
        if path is None:
            if type(one) is not str:
                one = str(one)
            if type(two) is not str:
                two = str(two)
            try:
                if convert_one is not None:
                    convert_one(one)
                if convert_two is not None:
                    convert_two(two)
            except ValueError:
                return None
            match = fullmatch(f"{before}{one}{middle}{two}{after}")
            if match is None or match.groups() != (one, two):
                return None
            path = f"{encoded_before}{quote_arg(one)}{encoded_middle}{quote_arg(two)}{encoded_after}"
            if keyable and len(built) < BUILT_PATHS:
                built[args] = path  # type: ignore[index]
        return _with_query(path, kwargs) if kwargs else path

    return fast
