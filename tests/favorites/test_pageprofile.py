"""bench.pageprofile on the test database: the parts it names are found in a real area page's profile."""

from __future__ import annotations

from bench import pageprofile


def test_the_area_page_profile_names_its_parts(wsgi_app, con) -> None:
    per_request, shares, _ = pageprofile.profile(wsgi_app, "/areas/440300", 5)
    found = dict(shares)
    assert per_request > 0 and set(found) == {label for label, _ in pageprofile.PARTS}
    assert all(0 < found[label] < 1 for label in found if not label.startswith("session"))
    render = next(share for label, share in shares if label.startswith("Jinja2"))
    url_for = next(share for label, share in shares if label.startswith("url_for"))
    assert url_for < render  # nested: most url_for calls are inside the render
