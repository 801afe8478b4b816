"""Bad input of any shape is a 4xx, never a crash: parsers fed arbitrary bytes (hypothesis)."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miniweb import App, HTTPError
from miniweb.multipart import parse_multipart
from miniweb.request import Request

_PIECES = st.sampled_from(
    [b"--B", b"\r\n", b"\r\n\r\n", b"--", b"Content-Disposition: form-data", b'; name="a"', b"; filename=",
     b"name*=UTF-8''%E4%B8%AD", b"Content-Type: text/plain", b"\xff", b"x", b":", b'"', b";"]
)  # fmt: skip
_BODIES = st.one_of(st.binary(max_size=300), st.lists(_PIECES, max_size=40).map(b"".join))


@settings(max_examples=300, deadline=None)
@given(body=_BODIES, boundary=st.sampled_from(["B", "", "a b", "x" * 80, '"B"']))
def test_multipart_parser_answers_or_refuses(body, boundary):
    try:
        fields, files = parse_multipart(body, f"multipart/form-data; boundary={boundary}")
    except HTTPError as error:
        assert error.code == 400
    else:
        assert all(isinstance(value, str) for _, value in fields.items(multi=True))


def _request(**environ):
    environ.setdefault("REQUEST_METHOD", "POST")
    environ.setdefault("PATH_INFO", "/")
    return Request(environ, max_body_bytes=10_000)


_LATIN1 = st.text(st.characters(max_codepoint=255), max_size=60)  # what PEP 3333 strings can hold


@settings(max_examples=300, deadline=None)
@given(query=_LATIN1, cookie=_LATIN1, path=_LATIN1, body=st.binary(max_size=100), content_type=_LATIN1)
def test_request_parsers_answer_or_refuse(query, cookie, path, body, content_type):
    request = _request(
        QUERY_STRING=query, HTTP_COOKIE=cookie, PATH_INFO=path, CONTENT_TYPE=content_type,
        CONTENT_LENGTH=str(len(body)), **{"wsgi.input": io.BytesIO(body)},
    )  # fmt: skip
    for attribute in ("args", "cookies", "path", "form", "files", "json", "headers", "mimetype"):
        try:
            getattr(request, attribute)
        except HTTPError as error:
            assert error.code in (400, 413, 415)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=_LATIN1, method=st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "PUT", "BREW"]))
def test_app_never_answers_500_to_odd_requests(wsgi_call, path, method):
    app = App(template_folder=None, secret_key="k")

    @app.route(r"/a/(\d+)", methods=["GET", "POST"])
    def a(request, n):
        return {"n": n, "q": request.args.to_dict(), "f": request.form.to_dict()}

    status, _, _ = wsgi_call(app, path or "/", method=method, query=path)
    assert not status.startswith("5"), (path, method, status)
