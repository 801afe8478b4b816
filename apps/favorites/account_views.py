"""Sign up, log in, log out: the account pages, on the framework's signed session.

The session holds the user's id and name only (`uid`, `name`); it is signed, so nobody can make it say
another user. Logging in calls `session.regenerate()`, which also gives the browser a new CSRF nonce
(no session fixation). All three are POST forms with the CSRF token; logout is a POST so that a link
on another site cannot log anyone out.
"""

from __future__ import annotations

from miniweb import App, Request, Response, flash, redirect

from . import accounts
from . import repository as repo

__all__ = ["register", "current_user", "local_path"]


def current_user(request: Request) -> tuple[int, str] | None:
    """(id, name) of the logged-in user, or None."""
    if not request.has_session_support():
        return None
    uid, name = request.session.get("uid"), request.session.get("name")
    return (uid, name) if isinstance(uid, int) and isinstance(name, str) else None


def local_path(target: str | None, default: str) -> str:
    """`target` when it is a path on this site, else `default`: never an open redirect (CWE-601).

    A local path starts with one "/" — not "//" or "/\\" (browsers read both as another host) — and holds
    no scheme, control characters or spaces.
    """
    if (not target or not target.startswith("/") or target.startswith(("//", "/\\")) or len(target) > 2000
            or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target)):
        return default
    return target


def register(app: App, db, release) -> None:
    """Add /signup, /login and /logout to `app`. views.register's helpers: `db(request)` a pooled
    connection, `release(request)` gives it back (before a password hash, which needs none)."""

    def form_page(request: Request, template: str, *, error: str | None = None, username: str = "",
                  status: int = 200) -> Response:
        back = local_path(request.args.get("next") or request.form.get("next"), app.url_for("index"))
        response = app.render(request, template, error=error, username=username, next=back,
                              name_min=accounts.NAME_MIN, name_max=accounts.NAME_MAX,
                              password_min=accounts.PASSWORD_MIN)
        response.status_code = status
        return response

    def log_in(request: Request, uid: int, name: str, welcome: str) -> Response:
        request.session.regenerate()  # a fresh session and CSRF nonce for the new privilege
        request.session["uid"], request.session["name"] = uid, name
        flash(request, welcome, "success")  # after regenerate(), which empties the session
        return redirect(local_path(request.form.get("next"), app.url_for("index")))

    @app.route("/signup", methods=["GET", "POST"], name="signup")
    def signup(request: Request) -> Response:
        if request.method == "GET":
            return form_page(request, "signup.html")
        name = accounts.normalize_username(request.form.get("username", ""))
        password = request.form.get("password", "")
        problem = accounts.username_problem(name) or accounts.password_problem(password)
        if problem:
            return form_page(request, "signup.html", error=problem, username=name, status=400)
        password_hash = accounts.hash_password(password)  # before taking a connection: ~50 ms of CPU
        uid = repo.create_user(db(request), name, password_hash)
        if uid is None:
            return form_page(request, "signup.html", error=f"用户名“{name}”已经有人用了，请换一个",
                             username=name, status=409)
        return log_in(request, uid, name, f"欢迎，{name}！账号已创建，并已登录。")

    @app.route("/login", methods=["GET", "POST"], name="login")
    def login(request: Request) -> Response:
        if request.method == "GET":
            return form_page(request, "login.html")
        name = accounts.normalize_username(request.form.get("username", ""))
        password = request.form.get("password", "")[: accounts.PASSWORD_MAX + 1]
        address = request.remote_addr or "unknown"
        con = db(request)
        wait = repo.login_wait(con, name, address)
        if wait:
            # 429 Too Many Requests (RFC 6585 §4); checked before the password, so guessing gains nothing.
            response = form_page(request, "login.html", error=f"登录失败次数太多，请 {wait} 秒后再试",
                                 username=name, status=429)
            response.headers["Retry-After"] = str(wait)
            return response
        user = repo.user_by_name(con, name)
        release(request)  # no connection held while hashing: twenty logins at once would hold them all
        if not accounts.verify_password(password, user[2] if user else None) or user is None:
            repo.record_login_failure(db(request), name, address, accounts.lock_seconds)
            return form_page(request, "login.html", error="用户名或密码不对", username=name, status=400)
        repo.clear_login_failures(db(request), name)
        return log_in(request, user[0], user[1], f"欢迎回来，{user[1]}！")

    @app.route("/logout", methods=["POST"], name="logout")
    def logout(request: Request) -> Response:
        request.session.regenerate()
        flash(request, "已退出登录。", "success")
        return redirect(app.url_for("index"))
