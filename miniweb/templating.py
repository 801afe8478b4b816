"""Jinja2 templates: one Environment per app, autoescape always on.

Autoescaping is not optional: every ``{{ value }}`` is HTML-escaped unless marked safe, so user data
(area names, notes) cannot inject markup. Mark trusted HTML with ``markupsafe.Markup`` or ``|safe``.
"""

from __future__ import annotations

import os
from typing import Any

import jinja2

__all__ = ["create_environment"]


def create_environment(
    folder: str | os.PathLike[str], auto_reload: bool, names: dict[str, Any]
) -> jinja2.Environment:
    """The app's template environment, loading from ``folder`` (UTF-8)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.fspath(folder), encoding="utf-8"),
        autoescape=True,
        auto_reload=auto_reload,  # stat() on every render only while developing
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(names)
    return env
