"""Static files as a WSGI component: ``StaticFiles(directory, prefix="/static")``.

Works on its own under any WSGI server, and inside :class:`~miniweb.App` (``static_folder=``).
The one rule: never serve a byte from outside ``directory``. A request path is decoded strictly,
refused if any segment is ``..``/``.``/empty (before anything is resolved), then resolved (symlinks
included) and checked again against the real root.

The hot path: a file that passed those checks is remembered by its URL path with what its responses
need (ETag, Last-Modified, Content-Type, the header lists), keyed by the file's identity
``(inode, device, mtime_ns, size)``. The next request for it costs one ``open`` + ``fstat`` (200), or one
``stat`` (304 revalidation, no open), of the path the URL names under the root, through its symlinks as
they are now: a file that changed or was replaced, or a symlink removed or pointed at another file, is
looked up and checked again from the start, so a symlink swapped in later can neither lead outside the
root nor keep its old target served. At most ``cache_entries`` files are remembered (past that the cache
starts over). The file is opened with ``os.open`` and handed to the server as an :class:`OpenFile`, which
``wsgi.file_wrapper`` sends with ``sendfile`` (python -m bench.staticpath measures this path against a bare
``file_wrapper`` app).

``stat_interval=S`` (nginx's ``open_file_cache_valid``) makes a 304 skip even its ``stat`` within S seconds
of the last check that found the file unchanged (a 304's ``stat`` or a 200's ``fstat``): a change is then
seen up to S seconds late by revalidations, which answer from the remembered validators. A 200 is always
checked: its ``open`` + ``fstat`` of what was opened is what guarantees that a file replaced, or a symlink
swapped in (say to a file outside the root), is never served under the old headers. ``App(static_folder=...)``
uses ``STAT_INTERVAL`` (1 s), or 0 while ``app.debug`` is true; a stand-alone ``StaticFiles`` defaults to 0.

    GET /static/app.css ─► cache hit? ─► conditional? stat* ─► same file, not modified ─► 304
                               │                  └──────────► open + fstat ─► same file ─► 200/206/416
                               └─ miss or changed ─► decode ─► guard ─► realpath ─► check ─► remember
    * none within stat_interval seconds of the last check

A HEAD with ``Range`` gets the 200's headers: only GET has range semantics (RFC 9110 §14.2).
"""

from __future__ import annotations

import logging
import math
import mimetypes
import numbers
import os
import stat as stat_module
from collections.abc import Callable, Iterable, Sequence
from email.utils import formatdate
from time import monotonic as _monotonic  # read at call time: tests move it (monkeypatch), nobody else
from typing import Any

from .errors import BadRequest, HTTPError, MethodNotAllowed, NotFound
from .openfile import OpenFile, open_file
from .ranges import content_range, file_part, requested_range
from .request import decode_path
from .response import Response, _FileIterator, _not_modified, error_response, send_file

__all__ = ["CACHE_ENTRIES", "STAT_INTERVAL", "OpenFile", "StaticFiles"]

logger = logging.getLogger(__name__)

_BLOCK = 64 * 1024  # block size handed to wsgi.file_wrapper (and the fallback iterator)
CACHE_ENTRIES = 4096  # default bound of files remembered (a static tree is rarely bigger)
# App(static_folder=...)'s stat_interval outside debug: each file's revalidation stats it at most once a
# second, so a 304 costs no system call under load and a change is still seen within a second.
STAT_INTERVAL = 1.0
# Every header a file response of ours may carry (304: ETag and Cache-Control).
_HEADER_NAMES = ("etag", "last-modified", "cache-control", "content-type", "accept-ranges", "content-length",
                 "content-range")  # fmt: skip
_NO_HEADERS: tuple[tuple[str, str], ...] = ()


class _File:
    """What the responses for one checked file need, computed once per version of the file."""

    __slots__ = ("path", "key", "size", "etag", "mtime", "last_modified", "headers", "headers_200",
                 "headers_304", "checked")  # fmt: skip

    def __init__(self, path: str, st: os.stat_result, max_age: int | None, real: str, checked: float) -> None:
        """``path``: the file as the URL names it under the root (what the cached paths open again, through
        the symlinks of that moment); ``real``: the real path it was checked as (its name: the type);
        ``checked``: the clock's time of the ``fstat`` of ``st``."""
        self.path = path
        # The time of the last check that found the file unchanged (read with stat_interval only). Threads
        # may store it concurrently, no lock: each stores a time its own check justifies, a float store is
        # atomic, and a store on an entry just dropped from the cache is harmless.
        self.checked = checked
        self.key = _identity(st)
        self.size = st.st_size
        self.etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'  # the same validators send_file uses
        self.mtime = int(st.st_mtime)
        self.last_modified = formatdate(self.mtime, usegmt=True)
        cache_control = () if max_age is None else (("Cache-Control", f"public, max-age={int(max_age)}"),)
        # RFC 9110 §15.4.5: a 304 carries the 200's ETag and Cache-Control, and no other metadata (such as
        # Last-Modified) where it has an ETag, which ours always has.
        self.headers_304 = (("ETag", self.etag), *cache_control)
        self.headers = (("ETag", self.etag), ("Last-Modified", self.last_modified), *cache_control,
                        ("Content-Type", _content_type(real)), ("Accept-Ranges", "bytes"))
        self.headers_200 = (*self.headers, ("Content-Length", str(st.st_size)))


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_dev, st.st_mtime_ns, st.st_size)


def _content_type(path: str) -> str:
    guessed, encoding = mimetypes.guess_type(path)
    # A .gz file is not "text/plain with gzip encoding" to a browser saving it: send it as bytes.
    mimetype = guessed if guessed and not encoding else "application/octet-stream"
    if mimetype.startswith("text/") and "charset" not in mimetype:
        mimetype += "; charset=utf-8"
    return mimetype


class StaticFiles:
    """Serve the files under ``directory`` at URLs under ``prefix``, with caching headers and ranges.

    ``cache_entries`` bounds the files remembered (see the module docstring); 0 remembers none.
    ``stat_interval``: seconds a remembered file's 304 may go without a ``stat`` after a check found it
    unchanged (0: a ``stat`` every time); a change is seen up to that late by revalidations, never by a
    200 (its ``open`` + ``fstat`` is always made). Measured with ``time.monotonic``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        prefix: str = "/static",
        max_age: int | None = 3600,
        cache_entries: int = CACHE_ENTRIES,
        stat_interval: float = 0,
    ) -> None:
        self.root = os.path.realpath(directory)
        if not os.path.isdir(self.root):
            raise ValueError(f"static directory {self.root!r} does not exist")
        if type(cache_entries) is not int or cache_entries < 0:
            raise ValueError(f"cache_entries must be an int >= 0, not {cache_entries!r}")
        if (
            not isinstance(stat_interval, numbers.Real)
            or isinstance(stat_interval, bool)
            or not math.isfinite(stat_interval)
            or stat_interval < 0
        ):
            raise ValueError(f"stat_interval must be a finite number of seconds >= 0, not {stat_interval!r}")
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        #: The paths served start with this (``prefix + "/"``).
        self.under = self.prefix + "/"
        self.max_age = max_age  # Cache-Control max-age, seconds; ETags make revalidation cheap after it
        self.cache_entries = cache_entries
        self.stat_interval = float(stat_interval)  # see the class docstring; 0.0 is false: no clock read
        #: The headers its responses may set themselves, lower-case (an ``extra`` header named so is
        #: not added: see :meth:`serve`).
        self.header_names = _HEADER_NAMES
        self._files: dict[str, _File] = {}  # PATH_INFO (PEP 3333 latin-1 form) -> checked file

    def handles(self, environ: dict[str, Any]) -> bool:
        """Whether the request's path falls under ``prefix``."""
        return environ.get("PATH_INFO", "").startswith(self.under)

    def resolve(self, path: str) -> str:
        """The real file for a decoded URL path, or ``NotFound``/``BadRequest``."""
        return self._located(path)[1]

    def _located(self, path: str) -> tuple[str, str]:
        """``resolve``'s checks; the file as ``path`` names it under the root (symlinks not followed) and
        its real path."""
        if not path.startswith(self.under):
            raise NotFound()
        relative = path[len(self.under) :]
        if "\0" in relative:
            raise BadRequest("The path contains a NUL byte.")
        # Refuse rather than normalise: "..", ".", empty segments ("//etc/passwd" after the prefix would
        # be absolute), backslashes (separators on Windows) and drive letters have no business here.
        segments = relative.split("/")
        if (
            not relative
            or "\\" in relative
            or any(segment in ("", ".", "..") for segment in segments)
            or ":" in segments[0]
        ):
            raise NotFound()
        named = os.path.join(self.root, *segments)
        candidate = os.path.realpath(named)
        if os.path.commonpath([self.root, candidate]) != self.root or not os.path.isfile(candidate):
            raise NotFound()
        return named, candidate

    # --- serving -----------------------------------------------------------------------------------------

    def serve(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        extra: Sequence[tuple[str, str]] = _NO_HEADERS,
    ) -> tuple[int, Iterable[bytes]]:
        """Start the response for one request and return ``(status code, body)``.

        ``extra`` headers go on every response started (the App's security headers); the caller leaves
        out those whose names are in ``header_names``. Raises HTTPError (404, 405, 400, 416) before
        starting any response, so the caller can render it.
        """
        path_info = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        known = self._files.get(path_info)
        if known is not None and (method == "GET" or method == "HEAD"):
            if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ:
                # Revalidation, as cheap as a hello: one stat (none within stat_interval of the last
                # check), no open, the headers made once per file. A file that changed falls through to
                # the full path. Its own ETag back is the common case.
                if not self.stat_interval:  # the default: a stat every time
                    try:
                        st = os.stat(known.path)
                        identity = (st.st_ino, st.st_dev, st.st_mtime_ns, st.st_size)  # _identity(st)
                    except OSError:
                        identity = None
                else:
                    identity = self._recent_identity(known)
                if identity == known.key and (
                    (if_none_match := environ.get("HTTP_IF_NONE_MATCH")) == known.etag
                    # our own Last-Modified back, byte for byte: not modified, without parsing it
                    or (
                        if_none_match is None and environ.get("HTTP_IF_MODIFIED_SINCE") == known.last_modified
                    )
                    or _not_modified(environ, known.etag, known.mtime)
                ):
                    start_response("304 Not Modified", [*known.headers_304, *extra])
                    return 304, []
            elif "HTTP_RANGE" not in environ:
                # The plain 200 of a file served before: open + fstat, the headers made once per file.
                file = self._reopened(known)
                if file is not None:
                    start_response("200 OK", [*known.headers_200, *extra])
                    return 200, self._body(environ, method, file)
        entry, file = self._checked(environ, path_info, known)
        if method not in ("GET", "HEAD"):
            file.close()
            raise MethodNotAllowed(["GET", "HEAD"])
        try:
            if _not_modified(environ, entry.etag, entry.mtime):
                file.close()
                start_response("304 Not Modified", [*entry.headers_304, *extra])
                return 304, []
            if "HTTP_RANGE" in environ:
                # Only a GET has range semantics: a HEAD gets the 200's headers (RFC 9110 §14.2, below).
                part = requested_range(environ, entry.size, entry.etag, entry.last_modified)
                if part is not None:
                    start, stop = part
                    headers = [
                        *entry.headers,
                        ("Content-Range", content_range(start, stop, entry.size)),
                        ("Content-Length", str(stop - start)),
                        *extra,
                    ]
                    start_response("206 Partial Content", headers)
                    return 206, file_part(environ, file, start, stop, _BLOCK)
            start_response("200 OK", [*entry.headers_200, *extra])
        except BaseException:
            file.close()
            raise
        return 200, self._body(environ, method, file)

    def _recent_identity(self, known: _File) -> tuple[int, int, int, int] | None:
        """``known.key`` within ``stat_interval`` of the last check that found the file unchanged (no
        stat), else the identity of the file the URL names now (None if gone), a fresh check if it is
        the same."""
        now = _monotonic()  # read before the stat: a change is seen at most stat_interval late
        if now - known.checked < self.stat_interval:
            return known.key
        try:
            identity = _identity(os.stat(known.path))
        except OSError:
            return None
        if identity == known.key:
            known.checked = now
        return identity

    def _reopened(self, known: _File) -> OpenFile | None:
        """``known``'s file opened again (through the symlinks of now) if it is still the same file, which
        counts as a fresh check; None if it changed, was replaced, or is gone or unreadable."""
        before = _monotonic() if self.stat_interval else 0.0  # read before the fstat it stands for
        try:
            file, st = open_file(known.path)
        except OSError:
            return None  # the full path finds out which
        if (st.st_ino, st.st_dev, st.st_mtime_ns, st.st_size) == known.key:  # _identity(st), inlined
            if self.stat_interval:
                known.checked = before
            return file
        file.close()
        return None

    @staticmethod
    def _body(environ: dict[str, Any], method: str, file: OpenFile) -> Iterable[bytes]:
        """The whole file as the body: through ``wsgi.file_wrapper`` when there is one; none for HEAD."""
        if method == "HEAD":
            file.close()  # same headers as GET, no body (RFC 9110 §9.3.2)
            return []
        wrapper = environ.get("wsgi.file_wrapper")
        return wrapper(file, _BLOCK) if wrapper is not None else _FileIterator(file, _BLOCK)

    def _checked(
        self, environ: dict[str, Any], path_info: str, known: _File | None
    ) -> tuple[_File, OpenFile]:
        """The checked file for ``path_info``, open; from the cache while the file stays the same."""
        if known is not None:
            file = self._reopened(known)
            if file is not None:
                return known, file
            self._files.pop(path_info, None)  # changed, replaced or gone: check it again from the start
        named, filename = self._located(decode_path(environ))
        checked = _monotonic()  # before the fstat below: a change after it is seen at most S late
        try:
            file, st = open_file(filename)  # the real path just checked, not the name (its symlinks change)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound() from None  # removed between the check and the open
        except PermissionError:
            logger.warning("static file %s is not readable", filename)
            raise NotFound() from None
        if not stat_module.S_ISREG(st.st_mode):
            file.close()
            raise NotFound()
        entry = _File(named, st, self.max_age, filename, checked)
        files = self._files
        if len(files) >= self.cache_entries:
            files.clear()  # bounded: past the bound the cache starts over
        if self.cache_entries:
            files[path_info] = entry
        return entry, file

    def response_for(self, environ: dict[str, Any]) -> Response:
        """The response for one request as a :class:`Response` (raises HTTPError on refusal).

        Slower than :meth:`serve` (no cache); for code that wants to change the response first.
        """
        method = environ.get("REQUEST_METHOD", "GET")
        filename = self.resolve(decode_path(environ))
        if method not in ("GET", "HEAD"):
            raise MethodNotAllowed(["GET", "HEAD"])
        try:
            return send_file(filename, environ, max_age=self.max_age)
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound() from None  # removed between the check and the open
        except PermissionError:
            logger.warning("static file %s is not readable", filename)
            raise NotFound() from None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            return self.serve(environ, start_response)[1]
        except HTTPError as error:
            return error_response(error)(environ, start_response)
