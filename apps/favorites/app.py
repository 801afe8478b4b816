"""Build the demo's App: settings, pool, per-request connection, error pages, routes."""

from __future__ import annotations

import logging
from pathlib import Path

from miniweb import App, Request, Response
from miniweb.security import SecurityHeaders

from . import views
from .db import DatabaseUnavailable
from .replicas import Databases, WritesUnavailable
from .settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent   # the project: templates/ and static/ live there

# The error pages we draw ourselves, in Chinese, with the site's layout (see templates/error.html).
_ERROR_TITLES = {400: "请求有误", 403: "禁止访问", 404: "找不到页面", 405: "不支持这种请求方式",
                 413: "提交的内容太大", 500: "服务器出错了"}
# The framework's own descriptions are English ("The CSRF token is invalid…", "Missing field 'note'.");
# until its message catalogue lands, a page shows ours instead: only descriptions with Chinese in them
# (the demo's own, e.g. "没有代码为 999999 的地区") pass through.
_ERROR_TEXTS = {
    400: "请求的内容不完整或格式不对，请返回上一页重试。",
    403: "表单已过期或来源不对（安全校验没有通过）。请返回上一页，刷新后再提交。",
    404: "这个地址没有页面，可能输错了，或者页面已经不存在。",
    405: "这个地址不接受这种请求方式。",
    413: "提交的内容超过了 64 KB 的上限。",
}


# No script at all (the pages need none; the map is server-drawn SVG), everything else from this origin only.
CSP = ("default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "img-src 'self' data:")


def create_app(settings: Settings | None = None) -> App:
    settings = settings or Settings.from_env()
    app = App(template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
              static_url="/static", secret_key=settings.secret_key, max_body_bytes=64 * 1024,
              debug=settings.debug, security_headers=SecurityHeaders(content_security_policy=CSP))
    database = Databases.from_env(settings)  # the primary, and a replica if DATABASE_REPLICA_URL is set
    app.database = database  # for tests and shutdown hooks

    @app.teardown_request
    def release_connection(request: Request, exc: BaseException | None) -> None:
        # Always runs: the connection goes back to the pool, which rolls back a transaction left open.
        con = getattr(request.state, "db", None)
        if con is not None:
            request.state.db = None
            database.release(con)

    @app.errorhandler(DatabaseUnavailable)
    def database_unavailable(request: Request, error: DatabaseUnavailable) -> Response:
        # The way out of a 503 is the same page a little later, not the home page (another 503).
        response = app.render(request, "error.html", code=503, title="数据库暂时不可用",
                              description="数据库暂时不可用，请稍等几秒再试。", retry=True)
        response.status_code = 503
        response.headers["Retry-After"] = "10"  # RFC 9110 §10.2.3: a hint for clients and load balancers
        return response

    @app.errorhandler(WritesUnavailable)
    def writes_unavailable(request: Request, error: WritesUnavailable) -> Response:
        # The primary is down, the replica is not (replicas.py): browsing works, saving does not. Logging in
        # and signing up need the primary too (the users table and the failed-login counts that slow down
        # password guessing), so they say so; anyone already logged in stays logged in (signed cookie).
        if getattr(request.route, "name", None) in {"login", "signup"}:
            title, what = "暂时无法登录", "登录和注册"
        else:
            title, what = "暂时无法保存", "保存更改"
        response = app.render(request, "error.html", code=503, title=title,
                              description=f"主数据库暂时不可用，现在可以浏览和搜索，但无法{what}，请稍后再试。")
        response.status_code = 503
        response.headers["Retry-After"] = "10"
        return response

    for code, title in _ERROR_TITLES.items():
        app.errorhandler(code)(_error_page(app, code, title))

    views.register(app, database, ROOT / "static")
    return app


def _error_page(app: App, code: int, title: str):  # -> an error handler for app.errorhandler
    def handler(request: Request, error: BaseException) -> Response:
        description = getattr(error, "description", None) if code != 500 else None
        if not description or not any("\u4e00" <= ch <= "\u9fff" for ch in str(description)):
            description = _ERROR_TEXTS.get(code)
        response = app.render(request, "error.html", code=code, title=title, description=description)
        response.status_code = code
        return response

    handler.__name__ = f"error_{code}"
    return handler
