"""The benchmark apps as a miniweb app and in the other frameworks compared (bench.framework, bench.overhead).

``/``                  hello world, the same 13 bytes as ``bench.apps`` (text/plain)
``/items/<n>``         a regex route returning JSON: ``{"id": n, "name": "item n"}``
``/static/static-64k.bin``  the 64 KiB file of ``bench.apps``, through ``StaticFiles``

``miniweb_app`` is built with default settings (no request log: the server's access log is the one line).
``falcon_application``, Falcon's app on our server, is the reference for the miniweb hello over the wire
(``bench.framework``). Falcon and Bottle are imported only when their builders are called (they live in
``.venv-bench``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.apps import HELLO, STATIC_PATH, ensure_static_file
from miniweb import App, Response

__all__ = ["ITEM_PATH", "STATIC_URL", "bottle_app", "falcon_app", "flask_app", "miniweb_app", "application"]

ITEM_PATH = "/items/42"
STATIC_URL = "/static/" + STATIC_PATH.name


def miniweb_app() -> App:
    ensure_static_file()
    app = App(template_folder=None, static_folder=str(STATIC_PATH.parent), static_url="/static")

    @app.route("/")
    def hello(request):
        return Response(HELLO, content_type="text/plain")

    @app.route(r"/items/(\d+)")
    def item(request, n):
        return {"id": int(n), "name": f"item {n}"}

    return app


def falcon_app() -> Callable[..., Any]:
    import falcon

    class Hello:
        def on_get(self, req, resp):
            resp.content_type = "text/plain"
            resp.data = HELLO

    class Item:
        def on_get(self, req, resp, n):
            resp.media = {"id": n, "name": f"item {n}"}

    app = falcon.App()
    app.add_route("/", Hello())
    app.add_route("/items/{n:int}", Item())
    return app


def bottle_app() -> Callable[..., Any]:
    import bottle

    app = bottle.Bottle()

    @app.route("/")
    def hello():
        bottle.response.content_type = "text/plain"
        return HELLO

    @app.route(r"/items/<n:re:\d+>")
    def item(n):
        return {"id": int(n), "name": f"item {n}"}

    return app


def flask_app() -> Callable[..., Any]:
    import flask

    app = flask.Flask(__name__)

    @app.route("/")
    def hello():
        return flask.Response(HELLO, content_type="text/plain")

    @app.route("/items/<int:n>")
    def item(n):
        return {"id": n, "name": f"item {n}"}

    return app


application = miniweb_app()  # python -m server PORT bench.mwapps:application


def __getattr__(name: str) -> Any:
    """``bench.mwapps:falcon_application`` for ``python -m server`` (in ``.venv-bench``, where Falcon is),
    built on first use so that importing this module never needs Falcon (PEP 562)."""
    if name == "falcon_application":
        app = globals()["falcon_application"] = falcon_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
