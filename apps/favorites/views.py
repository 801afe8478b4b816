"""The demo's pages. Each view is thin: parse and check the input, call the repository, render or redirect.

GET never changes data; the three writes (collect, note, remove) are POST forms with a CSRF token
(checked by miniweb) and answer 303 See Other (RFC 9110 §15.4.4), so a reload does not post again.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from miniweb import App, BadRequest, NotFound, Request, Response, flash, json_response, redirect, send_file

from . import account_views
from . import repository as repo
from .account_views import current_user, local_path
from .refcache import RefCache, ReferencePages
from .replicas import Databases

__all__ = ["register", "release_db", "note_problem", "PER_PAGE", "SEARCH_MAX_CHARS", "LEVEL_NAMES"]

PER_PAGE = 20            # rows per page: a phone screen or two
SEARCH_MAX_CHARS = 50    # the longest area name has 15 characters; longer input is a mistake or abuse
MAX_PAGE = 10_000        # far past the last page of anything we have; bigger numbers are rejected as 400
LEVEL_NAMES = {1: "省级", 2: "地级", 3: "县级"}
CHILD_NAMES = {1: "下辖城市", 2: "下辖区县"}


def _page_number(request: Request) -> int:
    raw = request.args.get("page", "1")
    # Length first: int() of thousands of digits is slow, and past 4,300 a ValueError (CVE-2020-10735).
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5 and 1 <= int(raw) <= MAX_PAGE):
        raise BadRequest(f"页码必须是 1 到 {MAX_PAGE} 之间的整数")
    return int(raw)


def _check_page_exists(page: repo.Page) -> None:
    if page.number > page.pages:
        raise NotFound(f"没有第 {page.number} 页（共 {page.pages} 页）")


def _code(raw: str | None) -> int | None:
    """A 6-digit division code from a query parameter, or None when absent or malformed."""
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) == 6 else None


def release_db(request: Request, database: Databases) -> None:
    """Give the request's connection, if it took one, back to its pool (the next db() takes another).

    The teardown hook calls it after every request; a view calls it before slow work that needs no
    database (a password hash, ~50 ms of CPU), so that logins at once do not hold every pooled
    connection while they hash and keep the other pages waiting for one.
    """
    con = getattr(request.state, "db", None)
    if con is not None:
        request.state.db = None
        database.release(con)


def register(app: App, database: Databases, static_dir: Path, cache: RefCache | None = None,
             searches: RefCache | None = None) -> None:
    """Add the demo's routes to `app`; the areas' parts of the pages go through `cache`, search pages
    through `searches` (refcache.py; none: read and rendered per request)."""
    refs = ReferencePages(RefCache(0) if cache is None else cache, app.url_for,
                          lambda: app.jinja_env.get_template("_macros.html").module,
                          per_page=PER_PAGE, levels=LEVEL_NAMES, searches=searches)
    app.refcache, app.search_cache = refs.cache, refs.searches  # for tests

    def db(request: Request):  # -> a pooled PyMySQL connection
        # Taken on first use, released by the teardown hook in app.py: pages that need no database
        # (redirects, the favicon) never touch the pool.
        con = getattr(request.state, "db", None)
        if con is None:
            con = request.state.db = database.connection(request)  # primary or replica: replicas.py
        return con

    account_views.register(app, db, lambda request: release_db(request, database))

    def login_first(request: Request, back: str) -> Response:
        flash(request, "请先登录。", "info")
        return redirect(app.url_for("login", next=back))

    def _name(con, district_id: int) -> str:
        area = repo.get_area(con, district_id)
        return area.district if area else str(district_id)

    def area_or_404(request: Request, district_id: str) -> repo.Area:
        user = current_user(request)
        area = repo.get_area(db(request), int(district_id), user[0] if user else None)
        if area is None:
            raise NotFound(f"没有代码为 {district_id} 的地区")
        return area

    @app.route("/", name="index")
    def index(request: Request) -> Response:
        return app.render(request, "index.html", provinces=repo.provinces(db(request)), levels=LEVEL_NAMES)

    @app.route(r"/areas/([0-9]{6})", name="area")
    def area(request: Request, district_id: str) -> Response:
        number = _page_number(request)
        user = current_user(request)
        view = refs.area(db(request), int(district_id), user[0] if user else None, number)
        if view is None:
            raise NotFound(f"没有代码为 {district_id} 的地区")
        if view.page.total:
            _check_page_exists(view.page)
        return app.render(request, "area.html", area=view.area, page=view.page, levels=LEVEL_NAMES,
                          child_name=CHILD_NAMES.get(view.area.level, ""), collected=view.collected,
                          area_map=view.area_map, head_html=view.head_html, children_html=view.children_html)

    @app.route("/search", name="search")
    def search(request: Request) -> Response:
        text = request.args.get("q", "").strip()
        if len(text) > SEARCH_MAX_CHARS:
            raise BadRequest(f"搜索词最多 {SEARCH_MAX_CHARS} 个字")
        page = results_html = None
        if text:
            found = refs.search(db(request), text, _page_number(request))
            page, results_html = found.page, found.results_html
            if page.total:
                _check_page_exists(page)
        return app.render(request, "search.html", q=text, page=page, levels=LEVEL_NAMES,
                          results_html=results_html)

    @app.route(r"/areas/([0-9]{6})/collect", methods=["POST"], name="collect")
    def collect(request: Request, district_id: str) -> Response:
        back = local_path(request.form.get("next"), app.url_for("area", district_id))
        user = current_user(request)
        if user is None:  # anonymous: log in first, then back to the page they were on
            flash(request, "请先登录，再收藏地区。", "info")
            return redirect(app.url_for("login", next=back))
        con = db(request)
        try:
            added = repo.collect(con, user[0], int(district_id))
        except repo.UnknownArea:
            raise NotFound(f"没有代码为 {district_id} 的地区，无法收藏") from None
        name = _name(con, int(district_id))
        flash(request, f"已收藏{name}。" if added else f"{name}已经收藏过了，没有重复添加。", "success")
        # Back where the visitor was (the form says where), not off to another page.
        return redirect(back)

    @app.route("/favorites", name="favorites")
    def favorites(request: Request) -> Response:
        if current_user(request) is None:
            return login_first(request, app.url_for("favorites"))
        return _favorites_page(request)

    def _favorites_page(request: Request, error: str | None = None, error_id: int | None = None,
                        draft: str = "") -> Response:
        rows = refs.favorites(db(request), current_user(request)[0])
        fav_map = refs.favorites_map(rows)
        return app.render(request, "favorites.html", favorites=rows, fav_map=fav_map,
                          error=error, error_id=error_id, draft=draft,
                          note_max=repo.NOTE_MAX_CHARS, levels=LEVEL_NAMES)

    @app.route(r"/favorites/([0-9]{6})/note", methods=["POST"], name="edit_note")
    def edit_note(request: Request, district_id: str) -> Response:
        user = current_user(request)
        if user is None:
            return login_first(request, app.url_for("favorites"))
        note = request.form["note"]  # missing field -> 400
        problem = note_problem(note)
        if problem:
            # 400 with the form again, the text kept, so nothing typed is lost.
            response = _favorites_page(request, error=problem, error_id=int(district_id), draft=note)
            response.status_code = 400
            return response
        con = db(request)
        if not repo.set_note(con, user[0], int(district_id), note):
            raise NotFound(f"收藏里没有代码为 {district_id} 的地区")
        # Shown inside the favourite's own box (its category names it), which the #fragment scrolls to:
        # on a phone the notice is on screen, not at the top of a long page.
        flash(request, f"已保存{_name(con, int(district_id))}的备注。", f"fav-{district_id}")
        return redirect(app.url_for("favorites") + f"#fav-{district_id}")

    @app.route(r"/favorites/([0-9]{6})/remove", methods=["GET", "POST"], name="remove")
    def remove(request: Request, district_id: str) -> Response:
        back = local_path(request.args.get("next") if request.method == "GET" else request.form.get("next"),
                          app.url_for("favorites"))
        user = current_user(request)
        if user is None:
            return login_first(request, back)
        con = db(request)
        place = area_or_404(request, district_id)
        if not place.collected:
            raise NotFound(f"收藏里没有代码为 {district_id} 的地区")
        if request.method == "GET":
            # The confirmation step: a page of its own with a POST form (no script: the CSP forbids it).
            return app.render(request, "confirm_remove.html", area=place, next=back)
        repo.remove(con, user[0], place.district_id)
        flash(request, f"已取消收藏{place.district}。", "success")
        return redirect(back)

    # -- the course's old page names: 301 Moved Permanently (RFC 9110 §15.4.2) to the new ones ----------

    @app.route("/index.html", name="old_index")
    def old_index(request: Request) -> Response:
        return redirect(app.url_for("index"), status=301)

    @app.route("/show.py", name="old_show")
    def old_show(request: Request) -> Response:
        code = _old_id(request)
        return redirect(app.url_for("area", code) if code else app.url_for("index"), status=301)

    @app.route("/collect.py", name="old_collect")
    def old_collect(request: Request) -> Response:
        # The old page collected on GET; GET must not change data, so it leads to the area's page,
        # where the collect button is a POST form.
        code = _old_id(request)
        return redirect(app.url_for("area", code) if code else app.url_for("favorites"), status=301)

    # -- infrastructure ------------------------------------------------------------------------------------

    @app.route("/healthz", name="healthz")
    def healthz(request: Request) -> Response:
        # For load balancers: 200 while pages can be browsed, 503 when no database answers (replicas.py).
        body, status = database.health()
        return json_response(body, status=status)

    favicon = static_dir / "favicon.ico"

    @app.route(r"/favicon\.ico", name="favicon")
    def favicon_ico(request: Request) -> Response:
        return send_file(str(favicon), request, mimetype="image/x-icon")


# Bidirectional embeddings, overrides and isolates (Unicode TR #9 §2): they reorder the text around them,
# so a note could display as something other than what it says (cf. CVE-2021-42574, "Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def note_problem(note: str) -> str | None:
    """Why a note cannot be saved (in Chinese), or None. An empty note is fine: it clears the note."""
    if len(note) > repo.NOTE_MAX_CHARS:
        return f"备注最多 {repo.NOTE_MAX_CHARS} 个字，现在有 {len(note)} 个字"
    if any(ch in _BIDI_CONTROLS for ch in note):
        return "备注不能包含改变文字方向的控制字符"
    # Cc: C0/C1 controls. Line breaks and tabs are typed in a textarea, so they are allowed.
    if any(unicodedata.category(ch) == "Cc" and ch not in "\r\n\t" for ch in note):
        return "备注不能包含控制字符"
    if note and not note.strip():
        return "备注不能只有空白；要清空备注，请删除所有文字"
    return None


def _old_id(request: Request) -> str | None:
    raw = request.args.get("id")
    if raw is None or raw == "":
        return None
    if _code(raw) is None:
        raise BadRequest("id 必须是 6 位数字的行政区划代码，例如 440300")
    return raw
