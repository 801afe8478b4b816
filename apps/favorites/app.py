"""Build the demo's App: settings, pool, per-request connection, error pages, routes."""

from __future__ import annotations

import logging
from pathlib import Path

from miniweb import App, Request, Response
from miniweb.security import SecurityHeaders

from . import views
from .db import DatabaseUnavailable
from .refcache import RefCache
from .replicas import Databases, WritesUnavailable
from .settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent   # the project: templates/ and static/ live there

# The framework's texts in Chinese (miniweb/messages.py): error pages, CSRF refusals, form errors. Each
# keeps the placeholders its English default uses, so "缺少字段 'note'" still names the field.
MESSAGES = {
    "title.400": "请求有误",
    "title.403": "禁止访问",
    "title.404": "找不到页面",
    "title.405": "不支持这种请求方式",
    "title.413": "提交的内容太大",
    "title.500": "服务器出错了",
    "error.400": "请求的内容不完整或格式不对，请返回上一页重试。",
    "error.401": "需要先登录。",
    "error.403": "你没有权限这样做。",
    "error.404": "这个地址没有页面，可能输错了，或者页面已经不存在。",
    "error.405": "这个地址不接受这种请求方式。",
    "error.413": "提交的内容超过了 64 KB 的上限。",
    "error.415": "提交的内容格式不受支持。",
    "error.500": "服务器遇到了意外的错误，没能完成这个请求，请稍后再试。",
    "error.503": "服务暂时不可用，请稍后再试。",
    "csrf.missing": "表单缺少安全校验码（安全校验没有通过）。请返回上一页，刷新后再提交。",
    "csrf.invalid": "表单的安全校验码不对（安全校验没有通过）。请返回上一页，刷新后再提交。",
    "csrf.expired": "表单已过期（安全校验没有通过）。请返回上一页，刷新后再提交。",
    "csrf.cross_origin": "请求来自其他网站（{origin}），已被拒绝。",
    "path.not_utf8": "网址路径不是有效的 UTF-8 编码。",
    "query.not_utf8": "查询参数不是有效的 UTF-8 编码。",
    "query.too_many_fields": "查询参数超过了 {limit} 个。",
    "form.not_utf8": "表单内容不是有效的 UTF-8 编码。",
    "form.too_many_fields": "表单字段超过了 {limit} 个。",
    "form.missing_field": "请求的内容不完整：缺少字段 {key!r}，请返回上一页重试。",
    "body.bad_length": "请求头 Content-Length 不是数字。",
    "body.too_large": "提交的内容超过了 {limit} 字节的上限。",
    "json.expected": "需要 JSON 格式的请求内容（Content-Type: application/json）。",
    "json.invalid": "请求内容不是有效的 JSON：{error}",
    "json.too_deep": "JSON 内容嵌套太深。",
    "multipart.bad_boundary": "上传的表单缺少分隔符或分隔符无效。",
    "multipart.too_many_parts": "上传的表单超过 {limit} 个部分。",
    "multipart.truncated": "上传的表单不完整（缺少结束分隔符）。",
    "multipart.no_line_break": "上传的表单格式有误：分隔符后缺少换行。",
    "multipart.no_blank_line": "上传的表单格式有误：某个部分的头部后缺少空行。",
    "multipart.headers_too_large": "上传的表单中某个部分的头部超过 {limit} 字节。",
    "multipart.bad_header": "上传的表单中某个部分的头部格式有误。",
    "multipart.no_disposition": "上传的表单中每个部分都需要 Content-Disposition: form-data; name=...。",
    "multipart.not_utf8": "上传的表单中的 {what} 不是有效的 UTF-8。",
}
# The statuses drawn with the site's layout (templates/error.html); others get the framework's page.
_ERROR_CODES = (400, 403, 404, 405, 413, 500)


# No script at all (the pages need none; the map is server-drawn SVG), everything else from this origin only.
CSP = ("default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "img-src 'self' data:")


def create_app(settings: Settings | None = None) -> App:
    settings = settings or Settings.from_env()
    app = App(template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
              static_url="/static", secret_key=settings.secret_key, max_body_bytes=64 * 1024,
              debug=settings.debug, security_headers=SecurityHeaders(content_security_policy=CSP),
              messages=MESSAGES)
    database = Databases.from_env(settings)  # the primary, and a replica if DATABASE_REPLICA_URL is set
    app.database = database  # for tests and shutdown hooks

    @app.teardown_request
    def release_connection(request: Request, exc: BaseException | None) -> None:
        # Always runs: the connection goes back to the pool, which rolls back a transaction left open.
        views.release_db(request, database)

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

    for code in _ERROR_CODES:
        app.errorhandler(code)(_error_page(app, code))

    # The areas' cache (refcache.py): off while debugging, where templates reload from disk.
    off = settings.debug
    views.register(app, database, ROOT / "static", RefCache(0 if off else settings.refcache_entries),
                   RefCache(0 if off else settings.refcache_searches))
    return app


def _error_page(app: App, code: int):  # -> an error handler for app.errorhandler
    def handler(request: Request, error: BaseException) -> Response:
        # The demo's own descriptions are Chinese already; the framework's are Messages, which the
        # catalogue translates. A 500's description (if any) is internal: the page says error.500.
        own = (getattr(error, "description", None) or "") if code != 500 else ""
        description = app.messages.description(code, own)
        response = app.render(request, "error.html", code=code, title=app.messages.title(code),
                              description=description)
        response.status_code = code
        return response

    handler.__name__ = f"error_{code}"
    return handler
