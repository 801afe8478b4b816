"""The WSGI app every server under test serves: the same code for all of them.

``/``     hello world: ``text/plain``, 13 bytes, with Content-Length (issue 3's baseline).
``/64k``  a 64 KiB file through ``wsgi.file_wrapper`` (PEP 3333 §"Optional Platform-Specific File
          Handling"), so a server that has sendfile can use it; servers without a wrapper get a plain
          block iterator, as PEP 3333 lets an app fall back to.

The file is written next to the other results (``bench/results/``, git-ignored) the first time this
module is imported, atomically, because gunicorn and a pre-forking server may import it in several
processes at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["HELLO", "STATIC_PATH", "STATIC_SIZE", "application", "ensure_static_file"]

HELLO = b"Hello, World!"  # 13 bytes
STATIC_SIZE = 64 * 1024
STATIC_PATH = Path(__file__).resolve().parent / "results" / "static-64k.bin"
_BLOCK = 8192  # the fallback iterator's block size; wsgiref's FileWrapper uses the same

StartResponse = Callable[..., Any]


def ensure_static_file(path: Path = STATIC_PATH, size: int = STATIC_SIZE) -> Path:
    """Write the test file (deterministic bytes) unless it is already there with the right size."""
    if path.is_file() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    data = bytes(i % 251 for i in range(size))  # a prime period: no accidental alignment with blocks
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
    return path


def _hello(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))])
    return [HELLO]


def _static(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    f = open(STATIC_PATH, "rb")  # noqa: SIM115 - closed by the server through the iterable's close()
    start_response(
        "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(STATIC_SIZE))]
    )
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None:
        return wrapper(f, _BLOCK)
    return _FileIterator(f)


class _FileIterator:
    """PEP 3333's fallback: iterate the file in blocks; ``close()`` closes it."""

    def __init__(self, f: Any) -> None:
        self._f = f

    def __iter__(self) -> _FileIterator:
        return self

    def __next__(self) -> bytes:
        block = self._f.read(_BLOCK)
        if not block:
            raise StopIteration
        return block

    def close(self) -> None:
        self._f.close()


def _not_found(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    body = b"Not Found"
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


# A dict lookup on PATH_INFO: the same (negligible) cost under every server.
_ROUTES = {"/": _hello, "/64k": _static}


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The benchmark app: ``/`` hello world, ``/64k`` the file, anything else 404."""
    return _ROUTES.get(environ.get("PATH_INFO", ""), _not_found)(environ, start_response)


ensure_static_file()
