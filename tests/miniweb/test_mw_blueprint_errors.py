"""Route groups' own errorhandlers (``Blueprint.errorhandler``) and ``Blueprint.app_errorhandler``: which
requests they answer, their precedence over the app's handlers, a failing one, registration rules."""

from __future__ import annotations

import logging
import uuid

import pytest
import webtest

from miniweb import App, Blueprint, Forbidden, HTTPError, NotFound, Response, abort


class DatabaseDown(Exception):
    pass


class GoneNotFound(NotFound):
    """A NotFound with another code: handlers of NotFound (404) are not its handlers."""

    code = 410


def _label(text):
    """An errorhandler answering ``text: <error class>`` (with the error's status, as a 200 becomes)."""

    def handler(request, error):
        return f"{text}: {type(error).__name__}"

    return handler


def _group_app():
    """An app with two groups (admin, shop) and routes of its own; ``/admin/*`` raise from every place
    a request routed to a group can raise: the handler, the group's hooks, the app's hooks."""
    app = App(template_folder=None, secret_key="k" * 32)

    @app.before_request
    def app_before(request):
        if request.args.get("app_before"):
            abort(403)

    @app.after_request
    def app_after(request, response):
        if request.args.get("app_after"):
            raise DatabaseDown("from the app's after_request")
        return response

    @app.get("/")
    def index(request):
        abort(403)

    @app.get("/crash")
    def crash(request):
        raise DatabaseDown("an app route")

    admin = Blueprint("admin", url_prefix="/admin")

    @admin.before_request
    def admin_before(request):
        if request.args.get("before"):
            raise Forbidden()

    @admin.after_request
    def admin_after(request, response):
        if request.args.get("after"):
            raise DatabaseDown("from the group's after_request")
        response.headers["X-Admin-After"] = "ran"
        return response

    @admin.get("/forbidden")
    def forbidden(request):
        abort(403)

    @admin.get("/crash")
    def admin_crash(request):
        raise DatabaseDown("a group route")

    @admin.get(r"/items/(?P<n>[0-9]+)")
    def item(request, n: int):
        return f"item {n}"

    @admin.get(r"/things/(?P<key>[^/]+)")
    def thing(request, key: uuid.UUID):
        return f"thing {key}"

    @admin.post("/save")
    def save(request):
        return "saved"

    @admin.get("/ok")
    def ok(request):
        return "ok"

    admin.errorhandler(403)(_label("admin 403"))
    admin.errorhandler(DatabaseDown)(_label("admin db"))
    admin.errorhandler(404)(_label("admin 404"))
    admin.errorhandler(405)(_label("admin 405"))

    shop = Blueprint("shop", url_prefix="/shop")

    @shop.get("/forbidden")
    def shop_forbidden(request):
        abort(403)

    @shop.get("/crash")
    def shop_crash(request):
        raise DatabaseDown("another group's route")

    app.register_blueprint(admin)
    app.register_blueprint(shop)
    return app


@pytest.fixture
def client():
    return webtest.TestApp(_group_app())


def test_a_groups_handler_answers_its_routes_errors_from_handler_and_hooks(client):
    response = client.get("/admin/forbidden", status=403)
    assert response.text == "admin 403: Forbidden" and response.headers["X-Admin-After"] == "ran"
    assert client.get("/admin/crash", status=500).text == "admin db: DatabaseDown"
    assert client.get("/admin/ok", params={"before": "1"}, status=403).text == "admin 403: Forbidden"
    assert client.get("/admin/ok", params={"after": "1"}, status=500).text == "admin db: DatabaseDown"
    # the app's hooks, on a request routed to the group, are part of handling it (as in Flask)
    assert client.get("/admin/ok", params={"app_before": "1"}, status=403).text == "admin 403: Forbidden"
    assert client.get("/admin/ok", params={"app_after": "1"}, status=500).text == "admin db: DatabaseDown"
    # the CSRF check of the group's POST route raises inside that request too
    assert client.post("/admin/save", status=403).text == "admin 403: Forbidden"


def test_a_groups_handler_leaves_other_groups_and_the_apps_routes_alone(client):
    for path in ("/", "/shop/forbidden", "/?app_before=1", "/shop/forbidden?app_before=1"):
        response = client.get(path, status=403)
        assert "admin" not in response.text and "403 Forbidden" in response.text  # the default page
    for path in ("/crash", "/shop/crash"):
        assert "admin" not in client.get(path, status=500).text


def test_routing_misses_under_the_groups_prefix_are_the_apps(client):
    """No route matched, so no group: Flask gives them to the app too (request.blueprints is [])."""
    assert "admin" not in client.get("/admin/nothing", status=404).text
    assert "admin" not in client.get("/admin/items/x", status=404).text  # the regex does not match
    assert "admin" not in client.get("/admin/things/x", status=404).text  # matches, does not convert
    response = client.post("/admin/ok", status=405)  # the path is the group's, the method is not
    assert "admin" not in response.text and response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert client.get("/admin/items/7").text == "item 7"
    key = uuid.UUID(int=7)
    assert client.get(f"/admin/things/{key}").text == f"thing {key}"


def test_a_groups_handler_is_tried_before_the_apps_for_the_same_key():
    app = App(template_folder=None)
    group = Blueprint("g", url_prefix="/g")
    for key in (404, DatabaseDown):
        app.errorhandler(key)(_label("app"))
        group.errorhandler(key)(_label("group"))

    @group.get("/missing")
    @app.get("/missing")
    def missing(request):
        raise NotFound()

    @group.get("/db")
    @app.get("/db")
    def db(request):
        raise DatabaseDown()

    app.register_blueprint(group)
    client = webtest.TestApp(app)
    assert client.get("/g/missing", status=404).text == "group: NotFound"
    assert client.get("/g/db", status=500).text == "group: DatabaseDown"
    assert client.get("/missing", status=404).text == "app: NotFound"
    assert client.get("/db", status=500).text == "app: DatabaseDown"


@pytest.mark.parametrize(
    ("group_keys", "app_keys", "raised", "answer"),
    [
        # an HTTPError of code c: every scope's handlers for c (class tied to c, then c) come first...
        ([HTTPError], [404], NotFound, "app 404"),
        ([HTTPError], [NotFound], NotFound, "app NotFound"),
        ([404], [NotFound], NotFound, "group 404"),
        ([NotFound], [404], NotFound, "group NotFound"),
        ([NotFound, 404], [], NotFound, "group NotFound"),  # within one scope, as for the app alone
        # ...then codeless classes, the group's first
        ([HTTPError], [HTTPError], NotFound, "group HTTPError"),
        ([Exception], [HTTPError], NotFound, "group Exception"),
        ([403], [HTTPError], NotFound, "app HTTPError"),
        ([HTTPError], [], lambda: HTTPError(410), "group HTTPError"),
        ([NotFound, 404], [HTTPError], GoneNotFound, "app HTTPError"),
        # other exceptions: the group's nearest class in the MRO, then the app's
        ([Exception], [DatabaseDown], DatabaseDown, "group Exception"),
        ([ValueError], [DatabaseDown], DatabaseDown, "app DatabaseDown"),
        # an exception no handler takes: the group's errorhandler(500), then the app's
        ([500], [500], DatabaseDown, "group 500"),
        ([403], [500], DatabaseDown, "app 500"),
        ([500], [Exception], DatabaseDown, "app Exception"),
    ],
)
def test_precedence_between_the_groups_and_the_apps_handlers(group_keys, app_keys, raised, answer):
    app = App(template_folder=None)
    group = Blueprint("g")
    for key in group_keys:
        group.errorhandler(key)(_label(f"group {getattr(key, '__name__', key)}"))
    for key in app_keys:
        app.errorhandler(key)(_label(f"app {getattr(key, '__name__', key)}"))

    @group.get("/raise")
    def raise_it(request):
        raise raised()

    app.register_blueprint(group)
    assert webtest.TestApp(app).get("/raise", expect_errors=True).text.split(":")[0] == answer


def test_a_groups_answer_gets_the_errors_status_and_headers_and_runs_the_after_hooks():
    app = App(template_folder=None)
    group = Blueprint("g")
    seen = []

    @group.after_request
    def group_after(request, response):
        seen.append(("group", response.status_code))
        return response

    @app.after_request
    def app_after(request, response):
        seen.append(("app", response.status_code))
        return response

    @group.errorhandler(HTTPError)
    def handled(request, error):
        return Response(f"handled {error.code}")  # a 200: becomes the error's status

    @group.get("/teapot")
    def teapot(request):
        raise HTTPError(418, headers=[("X-Why", "short")])

    @group.get("/explicit")
    def explicit(request):
        raise NotFound()

    group.errorhandler(404)(lambda request, error: ("gone for good", 410))
    app.register_blueprint(group)
    client = webtest.TestApp(app)
    response = client.get("/teapot", status=418)
    assert response.text == "handled 418" and response.headers["X-Why"] == "short"
    assert seen == [("group", 418), ("app", 418)]
    assert client.get("/explicit", status=410).text == "gone for good"  # a status it chose is kept


def test_the_groups_after_hooks_run_when_an_app_hook_answers():
    """As Flask: once the route is known, the request is the group's, whoever answers it."""
    app = App(template_folder=None)
    group = Blueprint("g", url_prefix="/g")
    seen = []
    app.before_request(lambda request: f"app answered, route {request.route.name}")

    @group.after_request
    def group_after(request, response):
        seen.append(request.route.name)
        return response

    @group.get("/page")
    def page(request):
        return "not reached"

    app.register_blueprint(group)
    assert webtest.TestApp(app).get("/g/page").text == "app answered, route g.page"
    assert seen == ["g.page"]


def test_a_failing_group_handler_gives_the_default_500_page_and_is_logged(caplog):
    app = App(template_folder=None)
    group = Blueprint("g")
    app.errorhandler(404)(_label("app 404"))  # not a fallback for the group's broken handler

    @group.errorhandler(404)
    def broken(request, error):
        raise RuntimeError("the handler itself is broken")

    @group.get("/missing")
    def missing(request):
        raise NotFound("never shown")

    app.register_blueprint(group)
    with caplog.at_level(logging.ERROR, logger="miniweb.app"):
        response = webtest.TestApp(app).get("/missing", status=500)
    assert "500 Internal Server Error" in response.text
    assert not any(text in response.text for text in ("broken", "never shown", "app 404"))
    failed = [r for r in caplog.records if r.getMessage().startswith("errorhandler")]
    assert len(failed) == 1 and "broken" in failed[0].getMessage()
    assert failed[0].exc_info[1].args == ("the handler itself is broken",)


def test_app_errorhandler_registers_on_the_app_when_the_group_is_registered():
    app = App(template_folder=None)
    group = Blueprint("g", url_prefix="/g")
    other = Blueprint("o", url_prefix="/o")
    group.app_errorhandler(404)(_label("app-wide 404"))
    group.app_errorhandler(DatabaseDown)(_label("app-wide db"))
    group.get("/missing")(lambda request: abort(404))

    @other.get("/db")
    def db(request):
        raise DatabaseDown()

    client = webtest.TestApp(app)
    assert "app-wide" not in client.get("/nothing", status=404).text  # not before registration
    app.register_blueprint(group)
    app.register_blueprint(other)
    assert client.get("/nothing", status=404).text == "app-wide 404: NotFound"  # no route at all
    assert client.get("/g/missing", status=404).text == "app-wide 404: NotFound"
    assert client.get("/g/nothing", status=404).text == "app-wide 404: NotFound"
    assert client.get("/o/db", status=500).text == "app-wide db: DatabaseDown"
    assert group.error_handlers == {}  # app-wide only: nothing of the group's own


def test_app_errorhandler_replaces_and_is_replaced_like_app_errorhandler_calls():
    app = App(template_folder=None)
    app.errorhandler(404)(_label("first"))
    group = Blueprint("g")
    group.app_errorhandler(404)(_label("the group's"))
    app.register_blueprint(group)
    client = webtest.TestApp(app)
    assert client.get("/x", status=404).text == "the group's: NotFound"
    app.errorhandler(404)(_label("last"))
    assert client.get("/x", status=404).text == "last: NotFound"


@pytest.mark.parametrize("method", ["errorhandler", "app_errorhandler"])
def test_keys_and_signatures_are_checked_as_the_apps_are(method):
    group = Blueprint("g")
    register = getattr(group, method)
    with pytest.raises(ValueError, match=rf"{method}\(200\): error handlers are for 4xx and 5xx"):
        register(200)
    with pytest.raises(TypeError, match=rf"{method}\(\) takes a status code or an exception class"):
        register("404")
    with pytest.raises(TypeError, match="takes a status code"):
        register(True)
    with pytest.raises(TypeError, match="takes a status code"):
        register(int)  # a class, but not an exception class
    with pytest.raises(TypeError, match=r"handler\(request, error\)"):
        register(404)(lambda request: "one argument short")
    with pytest.raises(TypeError, match="needs a function"):
        register(404)("not callable")
    assert group.error_handlers == {} and group._app_error_handlers == []
    register(599)(lambda request, error: "ok")
    register(LookupError)(lambda request, error: "ok")


@pytest.mark.parametrize("method", ["errorhandler", "app_errorhandler"])
def test_errorhandlers_after_registration_are_refused_as_routes_are(method):
    app = App(template_folder=None)
    group = Blueprint("g")
    app.register_blueprint(group)
    with pytest.raises(RuntimeError, match="'g' is registered already: add errorhandlers before that"):
        getattr(group, method)(404)(_label("late"))
    with pytest.raises(RuntimeError, match="add routes before that"):
        group.get("/late")(lambda request: "late")
    assert group.error_handlers == {} and app._error_handlers == {}
    assert "late" not in webtest.TestApp(app).get("/x", status=404).text
