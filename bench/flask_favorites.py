"""The demo's GET pages ported to Flask, the stack a user would pick instead (issue 14's comparison).

Same SQL (``apps.favorites.repository``), same templates (``templates/``), same pool
(``apps.favorites.db.Database`` with the same ``Settings.from_env()``), same page logic as
``apps/favorites/views.py``; only the framework differs. Run it as any WSGI app::

    DATABASE_URL=mysql://... gunicorn -k gthread --threads 64 bench.flask_favorites:application

The templates are miniweb's, which call ``url_for(name, *groups, **query)``: a small adapter turns that
into Flask's ``url_for(name, district_id=..., **query)``. The CSRF token the forms carry is made with
itsdangerous, as Flask-WTF does. The three POST forms (collect, note, remove) are not ported — the
benchmark measures GET pages — and answer 501 so nobody mistakes this for the demo.
"""

from __future__ import annotations

import secrets
from typing import Any

import flask
from itsdangerous import URLSafeTimedSerializer

from apps.favorites import repository as repo
from apps.favorites import views
from apps.favorites.app import ROOT
from apps.favorites.db import Database, DatabaseUnavailable
from apps.favorites.settings import Settings

__all__ = ["create_app"]  # and `application`, built on first use (module __getattr__)

_ONE_GROUP = {"area", "collect", "edit_note", "remove"}  # endpoints whose URL has one district code


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
            con.close()

    def url_for(endpoint: str, *args: Any, **query: Any) -> str:
        if args and endpoint in _ONE_GROUP:
            query["district_id"] = args[0]
        return flask.url_for(endpoint, **query)

    # Globals, not a context processor: macros imported by the templates see globals only.
    app.jinja_env.globals["url_for"] = url_for
    app.jinja_env.globals["static_url"] = lambda filename: flask.url_for("static", filename=filename)

    @app.context_processor
    def csrf_token() -> dict[str, Any]:
        return {"csrf_token": signer.dumps(secrets.token_hex(16))}

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
        con = db()
        place = repo.get_area(con, int(district_id))
        if place is None:
            flask.abort(404)
        page = repo.children(con, place.district_id, number, views.PER_PAGE)
        check_page_exists(page)
        return flask.render_template(
            "area.html", area=place, page=page, levels=views.LEVEL_NAMES,
            child_name=views.CHILD_NAMES.get(place.level, ""),
            collected=repo.is_collected(con, place.district_id),
        )  # fmt: skip

    @app.route("/search", endpoint="search")
    def search() -> str:
        text = flask.request.args.get("q", "").strip()
        if len(text) > views.SEARCH_MAX_CHARS:
            flask.abort(400)
        page = None
        if text:
            page = repo.search(db(), text, page_number(), views.PER_PAGE)
            check_page_exists(page)
        return flask.render_template("search.html", q=text, page=page, levels=views.LEVEL_NAMES)

    @app.route("/favorites", endpoint="favorites")
    def favorites() -> str:
        notices = {kind: None for kind in ("added", "already", "saved", "removed")}
        rows = repo.favorites(db())
        return flask.render_template(
            "favorites.html", favorites=rows, notices=notices,
            names={f.area.district_id: f.area.district for f in rows},
            error=None, error_id=None, draft="", note_max=repo.NOTE_MAX_CHARS, levels=views.LEVEL_NAMES,
        )  # fmt: skip

    def not_ported(district_id: str) -> tuple[str, int]:
        return "not ported: the benchmark measures the GET pages\n", 501

    for rule, endpoint in (
        ("/areas/<district_id>/collect", "collect"),
        ("/favorites/<district_id>/note", "edit_note"),
        ("/favorites/<district_id>/remove", "remove"),
    ):
        app.add_url_rule(rule, endpoint, not_ported, methods=["POST"])
    return app


def __getattr__(name: str) -> Any:
    if name == "application":  # built on first use, like apps.favorites.application
        app = create_app()
        globals()["application"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
