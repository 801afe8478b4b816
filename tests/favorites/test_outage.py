"""The database goes away mid-run: pages answer 503, /healthz 503; it comes back: pages work, no restart."""

from __future__ import annotations


def test_database_outage_and_recovery(web, mariadb) -> None:
    assert web.get("/").status_code == 200  # the pool holds live connections now
    assert web.get("/healthz").json["status"] == "ok"

    mariadb.stop()
    try:
        pages = [("/", {}), ("/areas/440300", {}), ("/search", {"q": "深圳"}), ("/favorites", {})]
        for path, params in pages:
            resp = web.get(path, params, status=503)
            assert "数据库暂时不可用" in resp.text, path
            assert "Traceback" not in resp.text and "pymysql" not in resp.text.lower()
            assert resp.headers["Retry-After"] == "10"
        health = web.get("/healthz", status=503)
        assert health.json == {"status": "unavailable", "database": "down"}
        # Pages that need no database still work.
        assert web.get("/favicon.ico").status_code == 200
        assert web.get("/show.py?id=440000", status=301).status_code == 301
    finally:
        mariadb.start()

    # Same app object, same pool: broken connections dropped, suspect idle ones pinged first (pool.py).
    assert web.get("/healthz").json["status"] == "ok"
    page = web.get("/areas/440300")
    assert page.html.h1.text == "深圳市"
    resp = page.forms["collect-form"].submit(status=303)
    assert "已收藏深圳市" in resp.follow().text


def test_the_503_page_offers_a_retry_not_the_home_page(web, mariadb) -> None:
    mariadb.stop()
    try:
        resp = web.get("/areas/440300", {"page": "1"}, status=503)
    finally:
        mariadb.start()
    assert resp.html.find(id="retry")["href"] == "/areas/440300?page=1"
    assert resp.html.find("main").find("a", href="/") is None
    assert web.get(resp.html.find(id="retry")["href"]).status_code == 200  # once it is back, it works
