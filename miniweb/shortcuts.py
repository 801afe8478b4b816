"""``get``/``post``/``put``/``patch``/``delete``: one-method ``route`` decorators (App and Blueprint)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

__all__ = ["MethodShortcuts"]

F = TypeVar("F", bound=Callable[..., Any])


class MethodShortcuts:
    """Mixed into a class whose ``route(pattern, methods, name, csrf)`` returns a decorator."""

    def route(self, pattern: str, methods: Iterable[str] | None = None, name: str | None = None,
              csrf: bool = True) -> Callable[[F], F]:  # fmt: skip
        raise NotImplementedError

    def get(self, pattern: str, name: str | None = None, csrf: bool = True) -> Callable[[F], F]:
        """``route(pattern, methods=["GET"])`` (HEAD and OPTIONS are answered too)."""
        return self.route(pattern, ["GET"], name, csrf)

    def post(self, pattern: str, name: str | None = None, csrf: bool = True) -> Callable[[F], F]:
        """``route(pattern, methods=["POST"])``."""
        return self.route(pattern, ["POST"], name, csrf)

    def put(self, pattern: str, name: str | None = None, csrf: bool = True) -> Callable[[F], F]:
        """``route(pattern, methods=["PUT"])``."""
        return self.route(pattern, ["PUT"], name, csrf)

    def patch(self, pattern: str, name: str | None = None, csrf: bool = True) -> Callable[[F], F]:
        """``route(pattern, methods=["PATCH"])``."""
        return self.route(pattern, ["PATCH"], name, csrf)

    def delete(self, pattern: str, name: str | None = None, csrf: bool = True) -> Callable[[F], F]:
        """``route(pattern, methods=["DELETE"])``."""
        return self.route(pattern, ["DELETE"], name, csrf)
