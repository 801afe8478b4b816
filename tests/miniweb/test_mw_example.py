"""The README's example app (examples/hello) works as the README says: in-process and via the CLI."""

from __future__ import annotations

import http.client
import importlib.util
import shlex
import sys
from pathlib import Path
from urllib.parse import urlencode

import webtest

from tests.processes import free_port, running

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello"


def _load_example():
    spec = importlib.util.spec_from_file_location("hello_example_myapp", EXAMPLE / "myapp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _readme_blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Writing an app", 1)[1].split("\n## ", 1)[0]
    return [block.split("\n```", 1)[0] for block in section.split(f"```{language}\n")[1:]]


def test_readme_shows_the_example_as_it_is():
    assert _readme_blocks("python")[0] == (EXAMPLE / "myapp.py").read_text(encoding="utf-8").rstrip("\n")
    template = (EXAMPLE / "templates" / "hello.html").read_text(encoding="utf-8").rstrip("\n")
    assert _readme_blocks("html")[0] == template
    assert "python -m server 8000 myapp:app" in _readme_blocks("sh")[0]


def test_example_under_webtest():
    client = webtest.TestApp(_load_example())
    page = client.get("/")
    assert "<h1>" not in page.text
    form = page.forms[0]
    form["name"] = "小明"
    redirected = form.submit(status=303)
    assert redirected.headers["Location"].endswith("/hello/%E5%B0%8F%E6%98%8E")
    assert "<h1>Hello, 小明!</h1>" in redirected.follow().text
    assert "<h1>Hello, &lt;b&gt;!</h1>" in client.get("/?name=%3Cb%3E").text
    client.post("/greet", {"name": "x"}, status=403)  # no CSRF token


_PORT = "{port}"  # where _serve puts the free port it picked in a command line


def _round_trip(port: int) -> None:
    """A page, then the form POST with its CSRF cookie and token, then the page it redirects to."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        page = conn.getresponse()
        body = page.read().decode()
        assert page.status == 200 and 'name="csrf_token"' in body
        token = body.split('name="csrf_token" value="')[1].split('"')[0]
        cookie = page.getheader("Set-Cookie").split(";")[0]
        form = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        conn.request("POST", "/greet", urlencode({"name": "世界"}), form)
        refused = conn.getresponse()
        refused.read()
        assert refused.status == 403  # the cookie alone is not enough: the token must come with the form
        conn.request("POST", "/greet", urlencode({"csrf_token": token, "name": "世界"}), form)
        posted = conn.getresponse()
        posted.read()
        assert posted.status == 303
        assert posted.getheader("Location").endswith("/hello/%E4%B8%96%E7%95%8C")
        conn.request("GET", posted.getheader("Location"))
        greeted = conn.getresponse()
        assert greeted.status == 200 and "Hello, 世界!" in greeted.read().decode()
    finally:
        conn.close()


def _serve(command: list[str]) -> None:
    """Run ``command`` (a server on ``_PORT``) from the example's directory, check it, then stop it."""
    port = free_port()
    with running([arg.replace(_PORT, str(port)) for arg in command], port=port, cwd=EXAMPLE):
        _round_trip(port)


def test_example_runs_with_the_readme_command():
    _serve([sys.executable, "-m", "server", _PORT, "myapp:app"])


def _readme_gunicorn_command() -> list[str]:
    """The README's gunicorn line, as argv, with its port 8000 left as a slot."""
    lines = [line for line in _readme_blocks("sh")[1].splitlines() if line.startswith("gunicorn ")]
    assert len(lines) == 1, "the README shows one gunicorn command"
    argv = shlex.split(lines[0], comments=True)
    assert "127.0.0.1:8000" in argv and argv[-1] == "myapp:app"
    return [arg.replace("8000", _PORT) if arg == "127.0.0.1:8000" else arg for arg in argv]


def test_example_runs_under_gunicorn_with_the_readme_command():
    argv = _readme_gunicorn_command()
    gunicorn = Path(sys.executable).with_name("gunicorn")  # the console script installed next to python
    assert gunicorn.exists(), "gunicorn is in the test extra: pip install -e '.[test]'"
    # Several worker processes: the CSRF token is signed, so whichever worker gets the POST can check it.
    _serve([str(gunicorn), *argv[1:]])
