"""The demo's pages ported to Flask, the stack a user would pick instead (issue 14's comparison).

Same SQL (``apps.favorites.repository``), same templates (``templates/``), same pool
(``apps.favorites.db.Database`` with the same ``Settings.from_env()``; no replica: the benchmark has
none), the same cache of the areas (``apps.favorites.refcache``, same size), same page logic as
``apps/favorites/views.py`` (maps included); only the framework differs. Run it
as any WSGI app::

    DATABASE_URL=mysql://... gunicorn -k gthread --threads 64 bench.flask_favorites:application

Ported: the GET pages (/, /areas/<code>, /search, /favorites) and POST /login, which puts the user in
Flask's signed session as the demo puts it in miniweb's (``uid``, ``name``), so the logged-in
/favorites page can be compared. The templates are miniweb's: a small adapter gives them miniweb's
``url_for(name, *groups, **query)`` and a ``request`` with ``path``, ``query_string``, ``url_path``,
``relative_url``, ``has_session_support()`` and ``session``. The CSRF token is made and checked with
itsdangerous, as Flask-WTF does. Sign-up, logout and the three writes (collect, note, remove) are not
ported — the benchmark measures GET pages — and answer 501 so nobody mistakes this for the demo.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, urlencode

import flask
from itsdangerous import BadSignature, URLSafeTimedSerializer

from apps.favorites import accounts, views
from apps.favorites import repository as repo
from apps.favorites.account_views import local_path
from apps.favorites.app import ROOT
from apps.favorites.db import Database, DatabaseUnavailable
from apps.favorites.refcache import RefCache, ReferencePages
from apps.favorites.settings import Settings

__all__ = ["create_app"]  # and `application`, built on first use (module __getattr__)

_ONE_GROUP = {"area", "collect", "edit_note", "remove"}  # endpoints whose URL has one district code
_CSRF_MAX_AGE = 3600  # seconds


class _TemplateRequest:
    """What the templates read from miniweb's Request, answered from Flask's."""

    @property
    def path(self) -> str:
        return flask.request.path

    @property
    def query_string(self) -> str:
        return flask.request.environ.get("QUERY_STRING", "")

    @property
    def url_path(self) -> str:  # werkzeug: the mount point and the path, percent-encoded (as miniweb's)
        return quote(flask.request.script_root + flask.request.path, safe="/:@!$&'()*+,;=-._~") or "/"

    @property
    def relative_url(self) -> str:
        query = self.query_string
        return f"{self.url_path}?{query}" if query else self.url_path

    @property
    def session(self) -> Any:
        return flask.session

    def has_session_support(self) -> bool:
        return True


def _user() -> tuple[int, str] | None:
    uid, name = flask.session.get("uid"), flask.session.get("name")
    return (uid, name) if isinstance(uid, int) and isinstance(name, str) else None


def create_app(settings: Settings | None = None) -> flask.Flask:
    settings = settings or Settings.from_env()
    app = flask.Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.secret_key = settings.secret_key
    # The Jinja2 options miniweb uses (miniweb/templating.py), so both render the same bytes; Flask's
    # own defaults already have autoescape on and auto_reload off outside debug.
    app.jinja_options = {**app.jinja_options, "trim_blocks": True, "lstrip_blocks": True}
    database = Database(settings)
    signer = URLSafeTimedSerializer(settings.secret_key, salt="csrf")

    def db() -> Any:
        if "db" not in flask.g:
            flask.g.db = database.connection()
        return flask.g.db

    @app.teardown_appcontext
    def release_connection(exc: BaseException | None) -> None:
        con = flask.g.pop("db", None)
        if con is not None:
            database.release(con)  # back to the pool, which rolls back a transaction left open

    def url_for(endpoint: str, *args: Any, **query: Any) -> str:
        # The query string encoded as miniweb's url_for does (urllib's quote keeps "/"; Werkzeug's does not).
        groups = {"district_id": args[0]} if args and endpoint in _ONE_GROUP else {}
        path = flask.url_for(endpoint, **groups)
        query = {key: value for key, value in query.items() if value is not None}
        return path + "?" + urlencode(query, doseq=True, quote_via=quote) if query else path

    off = settings.debug  # as apps/favorites/app.py
    refs = ReferencePages(RefCache(0 if off else settings.refcache_entries), url_for,
                          lambda: app.jinja_env.get_template("_macros.html").module,
                          per_page=views.PER_PAGE, levels=views.LEVEL_NAMES,
                          searches=RefCache(0 if off else settings.refcache_searches))
    app.refcache = refs.cache  # type: ignore[attr-defined]  # for tests

    # Globals, not a context processor: macros imported by the templates see globals only.
    app.jinja_env.globals["url_for"] = url_for
    app.jinja_env.globals["static_url"] = lambda filename: flask.url_for("static", filename=filename)
    template_request = _TemplateRequest()

    @app.context_processor
    def context() -> dict[str, Any]:
        # Runs after Flask's own processor, so this `request` replaces flask.request in the templates.
        return {"csrf_token": signer.dumps(secrets.token_hex(16)), "request": template_request}

    def page_number() -> int:
        raw = flask.request.args.get("page", "1")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 5 and 1 <= int(raw) <= views.MAX_PAGE):
            flask.abort(400)
        return int(raw)

    def check_page_exists(page: repo.Page) -> None:
        if page.total and page.number > page.pages:
            flask.abort(404)

    @app.errorhandler(DatabaseUnavailable)
    def database_unavailable(error: DatabaseUnavailable) -> tuple[str, int]:
        return flask.render_template("error.html", code=503, title="数据库暂时不可用", description=None), 503

    @app.route("/", endpoint="index")
    def index() -> str:
        return flask.render_template("index.html", provinces=repo.provinces(db()), levels=views.LEVEL_NAMES)

    @app.route("/areas/<district_id>", endpoint="area")
    def area(district_id: str) -> str:
        if not (district_id.isascii() and district_id.isdigit() and len(district_id) == 6):
            flask.abort(404)
        number = page_number()
        user = _user()
        view = refs.area(db(), int(district_id), user[0] if user else None, number)
        if view is None:
            flask.abort(404)
        check_page_exists(view.page)
        return flask.render_template(
            "area.html", area=view.area, page=view.page, levels=views.LEVEL_NAMES,
            child_name=views.CHILD_NAMES.get(view.area.level, ""), collected=view.collected,
            area_map=view.area_map, head_html=view.head_html, children_html=view.children_html,
        )  # fmt: skip

    @app.route("/search", endpoint="search")
    def search() -> str:
        text = flask.request.args.get("q", "").strip()
        if len(text) > views.SEARCH_MAX_CHARS:
            flask.abort(400)
        page = results_html = None
        if text:
            found = refs.search(db(), text, page_number())
            page, results_html = found.page, found.results_html
            check_page_exists(page)
        return flask.render_template("search.html", q=text, page=page, levels=views.LEVEL_NAMES,
                                     results_html=results_html)

    @app.route("/favorites", endpoint="favorites")
    def favorites() -> Any:
        user = _user()
        if user is None:
            flask.flash("请先登录。", "info")
            return flask.redirect(url_for("login", next=url_for("favorites")), 303)
        rows = refs.favorites(db(), user[0])
        fav_map = refs.favorites_map(rows)
        return flask.render_template(
            "favorites.html", favorites=rows, fav_map=fav_map, error=None, error_id=None, draft="",
            note_max=repo.NOTE_MAX_CHARS, levels=views.LEVEL_NAMES,
        )  # fmt: skip

    def account_form(template: str, *, error: str | None = None, username: str = "", status: int = 200):
        back = local_path(flask.request.args.get("next") or flask.request.form.get("next"), url_for("index"))
        return flask.render_template(
            template, error=error, username=username, next=back, name_min=accounts.NAME_MIN,
            name_max=accounts.NAME_MAX, password_min=accounts.PASSWORD_MIN,
        ), status  # fmt: skip

    @app.route("/login", methods=["GET", "POST"], endpoint="login")
    def login() -> Any:
        if flask.request.method == "GET":
            return account_form("login.html")
        try:
            signer.loads(flask.request.form.get("csrf_token", ""), max_age=_CSRF_MAX_AGE)
        except BadSignature:
            flask.abort(403)
        name = accounts.normalize_username(flask.request.form.get("username", ""))
        password = flask.request.form.get("password", "")[: accounts.PASSWORD_MAX + 1]
        address = flask.request.remote_addr or "unknown"
        con = db()
        wait = repo.login_wait(con, name, address)
        if wait:
            body, status = account_form("login.html", error=f"登录失败次数太多，请 {wait} 秒后再试",
                                        username=name, status=429)  # fmt: skip
            return body, status, {"Retry-After": str(wait)}
        user = repo.user_by_name(con, name)
        release_connection(None)  # as the demo does: no connection held while hashing
        if not accounts.verify_password(password, user[2] if user else None) or user is None:
            repo.record_login_failure(db(), name, address, accounts.lock_seconds)
            return account_form("login.html", error="用户名或密码不对", username=name, status=400)
        repo.clear_login_failures(db(), name)
        flask.session.clear()  # a fresh session for the new privilege, as session.regenerate() in the demo
        flask.session["uid"], flask.session["name"] = user[0], user[1]
        flask.flash(f"欢迎回来，{user[1]}！", "success")
        return flask.redirect(local_path(flask.request.form.get("next"), url_for("index")), 303)

    def not_ported(**_: str) -> tuple[str, int]:
        return "not ported: the benchmark measures the GET pages\n", 501

    for rule, endpoint in (
        ("/signup", "signup"),
        ("/logout", "logout"),
        ("/areas/<district_id>/collect", "collect"),
        ("/favorites/<district_id>/note", "edit_note"),
        ("/favorites/<district_id>/remove", "remove"),
    ):
        app.add_url_rule(rule, endpoint, not_ported, methods=["GET", "POST"])
    return app


def __getattr__(name: str) -> Any:
    if name == "application":  # built on first use, like apps.favorites.application
        app = create_app()
        globals()["application"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
