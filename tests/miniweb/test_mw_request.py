"""Request: forms, multipart uploads, JSON, body limits, cookies, headers, client address, state."""

from __future__ import annotations

import io

import pytest
import webtest

from miniweb import App, FileStorage
from miniweb.request import Request


def _app(max_body_bytes=1_000_000):
    app = App(template_folder=None, max_body_bytes=max_body_bytes)

    @app.route("/form", methods=["POST"], csrf=False)
    def form(request):
        return {
            "form": {key: request.form.getlist(key) for key in request.form},
            "files": {
                key: [
                    [f.filename, f.content_type, f.read().decode("latin-1")]
                    for f in request.files.getlist(key)
                ]
                for key in request.files
            },
        }

    @app.route("/required", methods=["POST"], csrf=False)
    def required(request):
        return request.form["name"]

    @app.route("/typed")
    def typed(request):
        return {
            "page": request.args.get("page", 1, type=int),
            "ids": request.args.getlist("id", type=int),
            "missing": request.args.get("nope", "dflt"),
            "has_page": "page" in request.args,
        }

    @app.route("/json", methods=["POST", "PUT"], csrf=False)
    def json_echo(request):
        return {"got": request.json}

    @app.route("/body", methods=["POST"], csrf=False)
    def body(request):
        return {"length": len(request.body), "again": len(request.body)}

    @app.route("/meta")
    def meta(request):
        request.state.seen = True
        return {
            "cookies": request.cookies,
            "agent": request.headers["user-agent"],
            "agent_upper": request.headers.get("USER-AGENT"),
            "remote": request.remote_addr,
            "method": request.method,
            "query": request.query_string,
            "state": request.state.seen,
        }

    return app


def test_urlencoded_form_utf8_and_multi_values():
    client = webtest.TestApp(_app())
    response = client.post(
        "/form",
        "note=%E5%A4%87%E6%B3%A8+one%20two&tag=a&tag=b",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.json["form"] == {"note": ["备注 one two"], "tag": ["a", "b"]}


def test_urlencoded_form_invalid_utf8_is_400():
    client = webtest.TestApp(_app())
    for body in ("note=%FF", b"note=\xff"):
        response = client.post("/form", body, content_type="application/x-www-form-urlencoded", status=400)
        assert "The form body is not valid UTF-8." in response.text, body


def test_missing_form_field_is_400():
    client = webtest.TestApp(_app())
    response = client.post("/required", {"other": "x"}, status=400)
    assert "Missing field" in response.text and "name" in response.text
    assert client.post("/required", {"name": "张三"}).text == "张三"


def test_multidict_type_conversion():
    client = webtest.TestApp(_app())
    assert client.get("/typed?page=3&id=1&id=x&id=2").json == {
        "page": 3,
        "ids": [1, 2],
        "missing": "dflt",
        "has_page": True,
    }
    assert client.get("/typed?page=abc").json["page"] == 1


def test_multipart_fields_and_files():
    client = webtest.TestApp(_app())
    response = client.post(
        "/form",
        {"note": "中文 note", "tag": "x"},
        upload_files=[("doc", "报告.txt", "第一行\n".encode()), ("bin", "a.bin", b"\x00\xff\r\n--x")],
    )
    files = response.json["files"]
    assert response.json["form"] == {"note": ["中文 note"], "tag": ["x"]}
    assert files["doc"][0][0] == "报告.txt"
    assert files["doc"][0][2].encode("latin-1") == "第一行\n".encode()
    assert files["bin"][0][2].encode("latin-1") == b"\x00\xff\r\n--x"


def _multipart(body: bytes, boundary: str = "XyZ"):
    return {"method": "POST", "content_type": f"multipart/form-data; boundary={boundary}", "body": body}


def test_multipart_raw_bodies():
    client = webtest.TestApp(_app())
    good = (
        b"preamble\r\n--XyZ\r\n"
        b'Content-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        b"--XyZ\r\n"
        b"Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''%E5%9B%BE.png\r\n"
        b"Content-Type: image/png\r\n\r\n\x89PNG\r\n"
        b"--XyZ--\r\nepilogue"
    )
    response = client.request("/form", **_multipart(good))
    assert response.json["form"] == {"a": ["1"]}
    assert response.json["files"]["f"][0][:2] == ["图.png", "image/png"]


@pytest.mark.parametrize(
    ("body", "boundary"),
    [
        (b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n', "XyZ"),  # no closing delimiter
        (b"--XyZ\r\nContent-Type: text/plain\r\n\r\n1\r\n--XyZ--\r\n", "XyZ"),  # no Content-Disposition
        (b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n1\r\n--XyZ--\r\n', "XyZ"),  # no blank line
        (b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff\r\n--XyZ--\r\n', "XyZ"),  # bad UTF-8
        (b"--XyZjunk\r\n", "XyZ"),  # delimiter not followed by CRLF
        (
            b"--XyZ\r\nContent-Disposition: form-data; name*=UTF-8''%FF\r\n\r\n1\r\n--XyZ--\r\n",
            "XyZ",
        ),  # no name
        (b"anything", ""),  # empty boundary
        (b"anything", "a" * 71),  # boundary too long (RFC 2046: 70 max)
    ],
)
def test_bad_multipart_is_400(body, boundary):
    client = webtest.TestApp(_app())
    response = client.request("/form", status=400, **_multipart(body, boundary))
    assert "multipart" in response.text


def test_json_body():
    client = webtest.TestApp(_app())
    assert client.post_json("/json", {"名": [1, 2]}).json == {"got": {"名": [1, 2]}}
    assert client.post("/json", b'{"a": 1}', content_type="application/vnd.api+json").json == {
        "got": {"a": 1}
    }


def test_bad_json_is_400_and_wrong_type_is_415():
    client = webtest.TestApp(_app())
    response = client.post("/json", b"{not json", content_type="application/json", status=400)
    assert "not valid JSON" in response.text
    for body in (b"\xff\xfe\x00", b""):  # a UTF-16 BOM with a truncated character; nothing at all
        response = client.post("/json", body, content_type="application/json", status=400)
        assert "The body is not valid JSON" in response.text, body
    response = client.post("/json", b'{"a": 1}', content_type="text/plain", status=415)
    assert "Expected a JSON body (Content-Type: application/json)." in response.text
    deep = b"[" * 100_000 + b"]" * 100_000
    response = client.post("/json", deep, content_type="application/json", status=400)
    assert "The JSON body is nested too deeply." in response.text


def test_body_is_read_once_and_cached():
    client = webtest.TestApp(_app())
    assert client.post("/body", b"x" * 1000, content_type="application/octet-stream").json == {
        "length": 1000,
        "again": 1000,
    }


def test_body_over_limit_is_413_before_reading(wsgi_call):
    app = _app(max_body_bytes=100)

    class Exploding(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the body was read although Content-Length was over the limit")

    status, _, _ = wsgi_call(app, "/body", method="POST", CONTENT_LENGTH="101", **{"wsgi.input": Exploding()})
    assert status.startswith("413")
    status, _, _ = wsgi_call(app, "/body", method="POST", body=b"x" * 100)
    assert status.startswith("200")


def test_body_without_length_is_bounded(wsgi_call):
    app = _app(max_body_bytes=100)
    # A de-chunked body (wsgi.input_terminated) of unknown length: read at most limit + 1 bytes.
    stream = io.BytesIO(b"x" * 10_000)
    status, _, _ = wsgi_call(
        app, "/body", method="POST", **{"wsgi.input": stream, "wsgi.input_terminated": True}
    )
    assert status.startswith("413")
    assert stream.tell() <= 101
    status, _, body = wsgi_call(
        app, "/body", method="POST", **{"wsgi.input": io.BytesIO(b"x" * 50), "wsgi.input_terminated": True}
    )
    assert status.startswith("200") and b'"length":50' in body
    # No length and not terminated: PEP 3333 says there is no body; nothing is read.
    stream = io.BytesIO(b"x" * 50)
    status, _, body = wsgi_call(app, "/body", method="POST", **{"wsgi.input": stream})
    assert b'"length":0' in body and stream.tell() == 0


def test_lying_content_length_reads_what_came(wsgi_call):
    status, _, body = wsgi_call(
        _app(), "/body", method="POST", CONTENT_LENGTH="500", **{"wsgi.input": io.BytesIO(b"x" * 20)}
    )
    assert status.startswith("200") and b'"length":20' in body


def test_bad_content_length_is_400(wsgi_call):
    status, _, _ = wsgi_call(_app(), "/body", method="POST", CONTENT_LENGTH="-5")
    assert status.startswith("400")
    status, _, _ = wsgi_call(_app(), "/body", method="POST", CONTENT_LENGTH="9" * 5000)
    assert status.startswith("413")


def test_cookies_headers_remote_addr_state():
    client = webtest.TestApp(_app(), extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    client.set_cookie("theme", "dark")
    response = client.get("/meta?x=1", headers={"User-Agent": "probe/1.0"})
    assert response.json == {
        "cookies": {"theme": "dark"},
        "agent": "probe/1.0",
        "agent_upper": "probe/1.0",
        "remote": "203.0.113.9",
        "method": "GET",
        "query": "x=1",
        "state": True,
    }


def test_filestorage_save(tmp_path):
    upload = FileStorage(b"data\x00", "a.bin", "application/octet-stream")
    upload.read(2)
    target = tmp_path / "out.bin"
    upload.save(str(target))
    assert target.read_bytes() == b"data\x00"


def test_cookie_that_is_not_utf8_does_not_lock_the_user_out(wsgi_call):
    status, _, body = wsgi_call(
        _app(), "/meta", HTTP_COOKIE="other=\xff\xfe; theme=dark", HTTP_USER_AGENT="x"
    )
    assert status.startswith("200") and b'"theme":"dark"' in body
    status, _, body = wsgi_call(
        _app(), "/meta", HTTP_COOKIE='a="quoted"; broken; =x; b=1=2; a=second', HTTP_USER_AGENT="x"
    )
    assert b'"cookies":{"a":"quoted","b":"1=2"}' in body


def test_multipart_part_count_is_bounded():
    app = App(template_folder=None, max_form_fields=2)

    @app.route("/form", methods=["POST"], csrf=False)
    def form(request):
        return {"n": len(list(request.form.items(multi=True)))}

    def body(parts):
        fields = b"".join(
            b'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n' for _ in range(parts)
        )
        return fields + b"--B--\r\n"

    client = webtest.TestApp(app)
    assert client.request("/form", **_multipart(body(2), "B")).json == {"n": 2}
    response = client.request("/form", status=400, **_multipart(body(3), "B"))
    assert "more than 2 parts" in response.text


@pytest.mark.parametrize(
    ("script_name", "path_info", "query", "url_path", "relative_url"),
    [
        ("", "/areas/1", "", "/areas/1", "/areas/1"),
        ("", "", "", "/", "/"),
        ("/demo", "", "", "/demo", "/demo"),
        ("/demo/", "/x", "a=1", "/demo/x", "/demo/x?a=1"),
        ("/demo", "/areas/1", "page=2&sort=name", "/demo/areas/1", "/demo/areas/1?page=2&sort=name"),
        # PEP 3333 strings carry the decoded bytes as latin-1: encoded again as UTF-8 percent-escapes
        ("/d\xc3\xa9mo", "/\xe5\x9c\xb0 \xe5\x8c\xba", "q=%E5%8D%97", "/d%C3%A9mo/%E5%9C%B0%20%E5%8C%BA",
         "/d%C3%A9mo/%E5%9C%B0%20%E5%8C%BA?q=%E5%8D%97"),
        ("", "/100%", "q=\xe5\x8d\x97&x=a%20b", "/100%25", "/100%25?q=%E5%8D%97&x=a%20b"),  # raw bytes
        ("", "/a?b", "", "/a%3Fb", "/a%3Fb"),  # a decoded "?" in the path stays part of the path
        ("", "/r", 'x=1#y&q=a b"<>', "/r", "/r?x=1%23y&q=a%20b%22%3C%3E"),  # sent raw: no fragment, no space
    ],
)
def test_url_path_and_relative_url_carry_the_mount_point(script_name, path_info, query, url_path,
                                                         relative_url) -> None:
    request = Request({"REQUEST_METHOD": "GET", "SCRIPT_NAME": script_name, "PATH_INFO": path_info,
                       "QUERY_STRING": query})
    assert (request.url_path, request.relative_url) == (url_path, relative_url)
