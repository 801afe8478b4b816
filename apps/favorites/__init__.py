"""The favourites demo: China's provinces, cities and counties from MySQL; collect them, keep a note.

    request ─► miniweb App ─► views.py (parse input) ─► repository/ (SQL)  ─► db.py pool ─► MySQL
                                  │
                                  └─► templates/*.html (Jinja2, autoescaped) ─► response

`python -m server 8899 apps.favorites:application` serves it; settings come from the environment
(settings.py). `application` is built on first access (PEP 562), so importing a submodule such as
`apps.favorites.settings` (scripts/localdb.py does) builds no app and reads no environment.
"""

from __future__ import annotations

from typing import Any

__all__ = ["application", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "application":
        from .app import create_app

        app = create_app()
        globals()["application"] = app  # built once; later lookups find the module attribute
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
