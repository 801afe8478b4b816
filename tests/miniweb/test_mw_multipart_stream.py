"""The streaming multipart parser: any chunking parses the same, big files spool to disk, limits hold."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miniweb import App, HTTPError
from miniweb.messages import DEFAULTS
from miniweb.multipart import SPOOL_BYTES, parse_multipart
from miniweb.request import Request

CT = "multipart/form-data; boundary=XyZ"
BODY = (
    b"preamble --XyZ not yet\r\n--XyZ \t\r\n"
    b'Content-Disposition: form-data; name="a"\r\n\r\n\xe4\xb8\xad --XyZ\r\n'  # no CRLF: no delimiter
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="f"; filename="x.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n\r\n--Xy\r\n-XyZ\r\n--X\x00\xff\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="a"\r\n\r\n\r\n'
    b"--XyZ--\r\nepilogue --XyZ\r\n"
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in zip(edges, edges[1:], strict=False)]


def _result(parsed):
    fields, files = parsed
    return (
        list(fields.items(multi=True)),
        [(key, f.filename, f.content_type, f.read()) for key, f in files.items(multi=True)],
    )


def test_whole_body():
    assert _result(parse_multipart(BODY, CT)) == (
        [("a", "中 --XyZ"), ("a", "")],
        [("f", "x.bin", "application/octet-stream", b"\r\n--Xy\r\n-XyZ\r\n--X\x00\xff")],
    )


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_any_chunking_parses_the_same(cuts):
    assert _result(parse_multipart(_split(BODY, cuts), CT)) == _result(parse_multipart(BODY, CT))


def test_one_byte_chunks():
    assert _result(parse_multipart([BODY[i : i + 1] for i in range(len(BODY))], CT)) == _result(
        parse_multipart(BODY, CT)
    )


def _file_body(payload: bytes) -> bytes:
    return (
        b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n'
        + payload
        + b"\r\n--XyZ--\r\n"
    )


def test_small_files_stay_in_memory_big_ones_go_to_a_temporary_file(tmp_path):
    _, files = parse_multipart(_file_body(b"s" * 1000), CT)
    assert not files["f"].stream._rolled  # SpooledTemporaryFile: still a BytesIO
    payload = bytes(range(256)) * (SPOOL_BYTES // 256 + 10)
    chunks = _split(_file_body(payload), list(range(0, 2 * SPOOL_BYTES, 65536)))
    _, files = parse_multipart(chunks, CT)
    upload = files["f"]
    assert upload.stream._rolled and upload.size == len(payload)
    assert upload.read(5) == payload[:5]
    upload.save(str(tmp_path / "out.bin"))  # save() copies from the start, whatever was read
    assert (tmp_path / "out.bin").read_bytes() == payload
    with upload:
        pass
    assert upload.stream.closed


def test_part_headers_are_bounded():
    head = b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\nX-Pad: ' + b"p" * 20_000
    with pytest.raises(HTTPError) as caught:
        parse_multipart([head, b"\r\n\r\n1\r\n--XyZ--\r\n"], CT, max_header_bytes=16 * 1024)
    assert caught.value.code == 400 and "multipart" in caught.value.description
    assert caught.value.description.key == "multipart.headers_too_large"


@pytest.mark.parametrize("key", sorted(k for k in DEFAULTS if k.startswith("multipart.")))
def test_multipart_messages_name_multipart(key):
    assert "multipart" in DEFAULTS[key]


def _request(body: bytes, limit: int = 100_000) -> Request:
    return Request(
        {"REQUEST_METHOD": "POST", "CONTENT_TYPE": CT, "CONTENT_LENGTH": str(len(body)),
         "wsgi.input": io.BytesIO(body)},
        max_body_bytes=limit,
    )  # fmt: skip


def test_request_streams_the_body_and_says_so_if_body_is_read_after():
    request = _request(BODY)
    assert request.form.getlist("a") == ["中 --XyZ", ""]
    with pytest.raises(RuntimeError, match="read request.body before"):
        _ = request.body


def test_body_read_first_is_parsed_from_memory():
    request = _request(BODY)
    assert request.body == BODY
    assert request.files["f"].read() == b"\r\n--Xy\r\n-XyZ\r\n--X\x00\xff"


def test_stream_over_the_limit_is_413_without_a_length():
    body = _file_body(b"x" * 5000)
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": CT, "wsgi.input": io.BytesIO(body),
               "wsgi.input_terminated": True}  # fmt: skip
    with pytest.raises(HTTPError) as caught:
        _ = Request(environ, max_body_bytes=1000).files
    assert caught.value.code == 413


def test_app_answers_413_for_a_too_long_multipart_body():
    import webtest

    app = App(template_folder=None, max_body_bytes=1000)

    @app.route("/up", methods=["POST"], csrf=False)
    def up(request):
        return {"n": len(request.files)}

    client = webtest.TestApp(app)
    client.request("/up", method="POST", content_type=CT, body=_file_body(b"x" * 2000), status=413)
    assert client.request("/up", method="POST", content_type=CT, body=_file_body(b"x")).json == {"n": 1}


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("My résumé.pdf", "My_resume.pdf"),
        ("../../etc/passwd", "etc_passwd"),
        ("..\\..\\Windows\\win.ini", "Windows_win.ini"),
        ("C:\\boot.ini", "C_boot.ini"),
        (".htaccess", "htaccess"),
        ("...", ""),
        ("../", ""),
        ("nul.txt", "_nul.txt"),
        ("COM1", "_COM1"),
        ("com10.txt", "com10.txt"),
        ("报告.txt", "txt"),
        ("a\x00b<>:|?*.png", "ab.png"),
        ("  spaced \t name .tar.gz ", "spaced_name_.tar.gz"),
    ],
)
def test_secure_filename(name, safe):
    from miniweb import secure_filename

    result = secure_filename(name)
    assert result == safe
    assert "/" not in result and "\\" not in result and not result.startswith(".") and result.isascii()


def test_multipart_errors_use_the_apps_catalogue():
    import webtest

    app = App(template_folder=None, messages={"multipart.truncated": "上传内容不完整。"})

    @app.post("/up", csrf=False)
    def up(request):
        return {"n": len(request.files)}

    body = b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nabc'
    response = webtest.TestApp(app).request("/up", method="POST", content_type=CT, body=body, status=400)
    assert "上传内容不完整。" in response.text
