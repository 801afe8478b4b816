"""miniweb — a WSGI mini-framework: regex routes, strict URL decoding, errors that render themselves.

Data flow of one request::

    WSGI server ──environ──► App.wsgi_app (request_cycle.py)
                               ├─ /static/… ─► StaticFiles (cached per file: ETag/304, Range, file_wrapper)
                               └─ Request(environ)                 lazily parses path/args/form/files/json
                                    ─► Router.match ─► 404 / 405 + Allow
                                    ─► before_request ─► CSRF check (POST/PUT/PATCH/DELETE)
                                    ─► handler(request, *groups) ─► str | bytes | dict | Response
                                    ─► errorhandler / default error page ─► after_request
                                    ─► teardown_request (always)
                                    ─► with request_log=True: "miniweb.request" line when the body closes
    WSGI server ◄──status, headers, body── Response

Modules: ``app`` (construction and registration), ``request_cycle`` (the cycle above),
``error_handling`` (exceptions to responses), ``urls`` (url_for and the mount point), ``routing`` +
``matching`` + ``patterns`` (regex routes), ``request`` +
``multipart`` (parsing input, multipart streamed), ``filenames`` (``secure_filename``), ``response``
(output, files), ``errors``, ``datastructures``, ``static``,
``templating`` + ``htmlbytes`` (pages rendered to bytes),
``csrf``, ``sessions`` + ``flash`` (state in signed cookies), ``security`` (headers),
``logs``, ``messages`` (the framework's replaceable texts), ``error_pages`` (default error responses, JSON
or HTML by ``Accept``), ``debug_page`` (the traceback page of ``debug=True``), ``ranges``. miniweb
imports nothing from ``server/`` and runs under any WSGI server.
"""

from .app import App
from .blueprints import Blueprint
from .datastructures import FileStorage, Headers, MultiDict
from .errors import (
    BadRequest,
    Forbidden,
    HTTPError,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    abort,
)
from .filenames import secure_filename
from .flash import flash, get_flashed_messages
from .htmlbytes import HtmlBytes
from .logs import configure_logging
from .messages import Messages
from .request import Request
from .response import Response, json_default, json_response, redirect, send_file
from .routing import BuildError
from .security import SecurityHeaders
from .sessions import Session, SessionConfig, SessionTooLarge
from .static import StaticFiles

__all__ = [
    "App",
    "Request",
    "Response",
    "redirect",
    "json_response",
    "json_default",
    "SecurityHeaders",
    "send_file",
    "HTTPError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "InternalServerError",
    "ServiceUnavailable",
    "StaticFiles",
    "configure_logging",
    "MultiDict",
    "Headers",
    "FileStorage",
    "secure_filename",
    "BuildError",
    "Session",
    "SessionConfig",
    "SessionTooLarge",
    "flash",
    "get_flashed_messages",
    "abort",
    "Messages",
    "Blueprint",
    "HtmlBytes",
]
