"""Containers shared by requests and responses: MultiDict, Headers, FileStorage."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, TypeVar

from .errors import MissingKey

__all__ = ["MultiDict", "Headers", "FileStorage", "check_header"]

T = TypeVar("T")
_MISSING: Any = object()


class MultiDict:
    """A form/query mapping where a key may repeat (``?tag=a&tag=b``).

    ``md[key]`` is the first value and raises :class:`~miniweb.errors.MissingKey` (a 400 Bad Request
    that is also a ``KeyError``) when absent, so a handler reading a required field needs no checks.
    """

    __slots__ = ("_data",)

    def __init__(self, pairs: Iterable[tuple[str, Any]] = ()) -> None:
        self._data: dict[str, list[Any]] = {}
        for key, value in pairs:
            self._data.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._data[key][0]
        except KeyError:
            raise MissingKey(key) from None

    def get(self, key: str, default: Any = None, type: Callable[[Any], T] | None = None) -> Any:
        """First value for ``key``, converted by ``type``; ``default`` if absent or not convertible."""
        values = self._data.get(key)
        if not values:
            return default
        if type is None:
            return values[0]
        try:
            return type(values[0])
        except (ValueError, TypeError):
            return default

    def getlist(self, key: str, type: Callable[[Any], T] | None = None) -> list[Any]:
        """Every value for ``key`` (``[]`` if absent); with ``type``, unconvertible values are skipped."""
        values = self._data.get(key, [])
        if type is None:
            return list(values)
        out = []
        for value in values:
            try:
                out.append(type(value))
            except (ValueError, TypeError):
                continue
        return out

    def add(self, key: str, value: Any) -> None:
        self._data.setdefault(key, []).append(value)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def keys(self) -> Iterable[str]:
        return self._data.keys()

    def items(self, multi: bool = False) -> Iterator[tuple[str, Any]]:
        """``(key, first value)`` pairs, or every ``(key, value)`` pair with ``multi=True``."""
        for key, values in self._data.items():
            if multi:
                for value in values:
                    yield key, value
            else:
                yield key, values[0]

    def to_dict(self) -> dict[str, Any]:
        return {key: values[0] for key, values in self._data.items()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultiDict) and self._data == other._data

    def __repr__(self) -> str:
        return f"MultiDict({list(self.items(multi=True))!r})"


# A CR or LF in a header would let user input inject headers or split the response (RFC 9110 §5.5);
# values go on the wire as ISO-8859-1 (PEP 3333 "Unicode issues"). One search finds either fault.
_BAD_IN_VALUE = re.compile(r"[^\x01-\x09\x0b\x0c\x0e-\xff]")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # a field name is a token (RFC 9110 §5.1)
_good_names: set[str] = set()  # names already checked: an app sends the same few again and again


def check_header(name: str, value: str) -> None:
    """Raise ``ValueError`` now for a header the server would refuse later (as a 500, far from here)."""
    if name not in _good_names:
        if not _TOKEN.match(name):
            raise ValueError(f"invalid header name {name!r}: a token, no spaces, colons or non-ASCII")
        if len(_good_names) < 1000:  # bounded, should an app make names up
            _good_names.add(name)
    bad = _BAD_IN_VALUE.search(value)
    if bad is None:
        return
    if bad.group() in "\r\n\0":
        raise ValueError(f"header {name!r} contains CR, LF or NUL")
    raise ValueError(
        f"header {name!r}: the value {value[:60]!r} is not ISO-8859-1; percent-encode it "
        "(urllib.parse.quote), or for Content-Disposition use filename*=UTF-8''... (RFC 8187)"
    )


class Headers:
    """An ordered list of ``(name, value)`` pairs with case-insensitive lookup (RFC 9110 §5.1).

    Iterating yields the pairs (list-like, as WSGI wants them); ``headers["content-type"]`` looks one up.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        if items is not None:
            for name, value in items:
                self.add(name, value)

    @classmethod
    def over(cls, items: list[tuple[str, str]]) -> Headers:
        """A view over ``items`` as they are (no copy, no checks: the caller made them). Headers never
        replaces its list, so changes made through the view are changes to ``items``."""
        headers = cls.__new__(cls)
        headers._items = items
        return headers

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Headers:
        """The request headers of a WSGI environ. Taken as they came: validation is for what we send."""
        headers = cls()
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers._items.append((key[5:].replace("_", "-").title(), value))
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                headers._items.append((key.replace("_", "-").title(), value))
        return headers

    def add(self, name: str, value: str) -> None:
        """Append a header, keeping any existing one of the same name (e.g. several ``Set-Cookie``)."""
        value = str(value)
        check_header(name, value)
        self._items.append((name, value))

    def __setitem__(self, name: str, value: str) -> None:
        """Replace every header called ``name`` with one (in the place of the first)."""
        value = str(value)
        check_header(name, value)
        lower = name.lower()
        items = self._items
        for index, (key, _) in enumerate(items):
            if key.lower() == lower:
                rest = [(k, v) for k, v in items[index + 1 :] if k.lower() != lower]
                items[index:] = [(name, value), *rest]  # in place: a Response shares this list
                return
        items.append((name, value))

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        lower = name.lower()
        for key, value in self._items:
            if key.lower() == lower:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        lower = name.lower()
        return [value for key, value in self._items if key.lower() == lower]

    def pop(self, name: str, default: Any = _MISSING) -> Any:
        lower = name.lower()
        found = [value for key, value in self._items if key.lower() == lower]
        if not found:
            if default is _MISSING:
                raise KeyError(name)
            return default
        self._items[:] = [(key, value) for key, value in self._items if key.lower() != lower]
        return found[0]

    def __delitem__(self, name: str) -> None:
        self.pop(name)

    def setdefault(self, name: str, value: str) -> str:
        existing = self.get(name)
        if existing is None:
            self.add(name, value)
            return value
        return existing

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[str]:
        return [key for key, _ in self._items]

    def values(self) -> list[str]:
        return [value for _, value in self._items]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def to_wsgi_list(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class FileStorage:
    """One uploaded file from a ``multipart/form-data`` body.

    ``data`` is the content (bytes) or a binary file holding it (the multipart parser passes its
    ``SpooledTemporaryFile``: in memory up to 500 KiB, a temporary file beyond, deleted when closed or
    garbage-collected). ``read()`` starts at the beginning; ``save()`` always copies the whole file.
    """

    def __init__(self, data: bytes | BinaryIO, filename: str, content_type: str, name: str = "") -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        if isinstance(data, bytes | bytearray):
            self.stream: BinaryIO = io.BytesIO(data)
            self.size = len(data)
        else:
            self.stream = data
            self.size = data.seek(0, io.SEEK_END)
            data.seek(0)

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.stream.seek(offset, whence)

    def save(self, destination: str | BinaryIO, buffer_size: int = 64 * 1024) -> None:
        """Write the upload to a path or an open binary file, from its start, in chunks.

        ``filename`` comes from the client: never use it as a path as it is; pass it through
        :func:`miniweb.secure_filename` (or better, name stored files yourself).
        """
        self.stream.seek(0)
        if isinstance(destination, str):
            with open(destination, "wb") as out:
                shutil.copyfileobj(self.stream, out, buffer_size)
        else:
            shutil.copyfileobj(self.stream, destination, buffer_size)

    def close(self) -> None:
        """Release the content (and delete its temporary file, if it has one)."""
        self.stream.close()

    def __enter__(self) -> FileStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FileStorage {self.filename!r} {self.content_type!r} {self.size} bytes>"
