"""Jinja2 templates: one Environment per app, autoescape always on, set up for serving.

Autoescaping is not optional: every ``{{ value }}`` is HTML-escaped unless marked safe, so user data
(area names, notes) cannot inject markup. Mark trusted HTML with ``markupsafe.Markup`` or ``|safe``.

What a render costs beyond the template's own code, kept small:
- ``auto_reload`` only while debugging: otherwise no ``stat()`` of the file (and of every template it
  extends or imports) per render;
- templates are compiled once and kept in a plain dict (``cache_size=-1``): the names an app renders are
  its template files, a bounded set, so Jinja2's LRU (a lock and a queue update per lookup, three times
  per render for a page that extends a base and imports macros) buys nothing;
- the app's globals (``url_for``, ``static_url``, ``get_flashed_messages``) are bound once, here;
- a call in a template (``{{ url_for('area', code) }}``, ``here.startswith(x)``) goes through
  ``Context.call``, which asks the callable twice whether it wants the context passed (``pass_context``
  and friends); for a callable that cannot want it — a builtin, or a plain function or method not marked —
  ``_Context.call`` calls it directly, the rest goes through Jinja2's own ``call`` unchanged;
- a render's context is made from the template's globals flattened into a plain dict (``_Template``):
  Jinja2 keeps them as a ``ChainMap`` (the template's own over the environment's) and copies that map
  into the context and into a set of its keys through ``ChainMap``'s Python methods on every render,
  and once more (a ``KeysView`` difference) per ``{% from ... import %}`` to decide whether the
  imported template's cached module will do. Flattening with ``dict.update`` gives the same mapping
  (the first map wins), read at each render, so globals changed later are still seen;
- every ``{{ value }}`` is escaped by the compiled template's global ``escape`` (markupsafe's, which
  wraps its result in a new ``Markup``: three Python calls for a plain string). ``_Template`` rebinds it
  to ``_escape``, which gives the same text for every value: a ``str`` through markupsafe's own C
  escaping without the wrapper, a ``Markup`` as it is, an ``int`` as its digits, anything else through
  markupsafe's ``escape``. The result only goes into the page (the output is joined, and where a
  template keeps it — a macro's return, ``{% set %}`` blocks, filter blocks — Jinja2 wraps the joined
  text in ``Markup`` itself), so a plain ``str`` does there what the ``Markup`` did.
"""

from __future__ import annotations

import os
import types
from collections import ChainMap
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import jinja2
import jinja2.runtime
import markupsafe
from jinja2.environment import TemplateModule
from jinja2.utils import internalcode

__all__ = ["create_environment"]

_FUNCTION, _METHOD, _BUILTIN = types.FunctionType, types.MethodType, types.BuiltinFunctionType
_PASS_ARG = "jinja_pass_arg"  # set on a function by jinja2's pass_context/pass_eval_context/pass_environment
_MARKUP, _ESCAPE = markupsafe.Markup, markupsafe.escape
# markupsafe >= 3.0: the C function its escape() wraps (str -> str); older versions: Jinja2's escape stays.
_escape_inner = getattr(markupsafe, "_escape_inner", None)


def _escape(value: Any) -> str:
    """What ``markupsafe.escape(value)`` gives, as text, with fewer Python calls (see the module)."""
    kind = type(value)
    if kind is str:
        return _escape_inner(value)  # type: ignore[misc]  # only installed where it exists
    if kind is _MARKUP:
        return value
    if kind is int:
        return str(value)  # digits and "-": nothing to escape (bool is not int here: "True" either way)
    return _ESCAPE(value)


def _passes_nothing(obj: Any) -> bool:
    """True if Jinja2 would call ``obj`` as it is: nothing marks it (or its ``__call__``) to be handed
    the context. A builtin carries no attributes; a function carries them in its ``__dict__`` (its type
    has none of that name); a method's attributes are its function's; their ``__call__`` is a
    method-wrapper, which carries none either. Anything else: Jinja2 decides."""
    kind = type(obj)
    if kind is _BUILTIN:
        return True
    if kind is _METHOD:
        obj = obj.__func__
        kind = type(obj)
    return kind is _FUNCTION and _PASS_ARG not in obj.__dict__


class _Context(jinja2.runtime.Context):
    """Jinja2's Context with a cheaper ``call`` for callables that take no context (see the module)."""

    @internalcode  # hidden from template tracebacks, as Jinja2's own call is
    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja2's signature
        if not _passes_nothing(__obj):
            return super().call(__obj, *args, **kwargs)
        if kwargs:  # what the compiled template passes for pass_context callables only
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:  # as Jinja2 does: an undefined value, not a broken generator protocol
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )


def _flat(globals: Mapping[str, Any]) -> dict[str, Any]:
    """A template's globals as one plain dict: what ``dict(chain_map)`` gives, without its Python loop."""
    if type(globals) is not ChainMap:
        return dict(globals)
    flat: dict[str, Any] = {}
    for mapping in reversed(globals.maps):  # the first map wins, as in ChainMap's lookup
        flat.update(mapping)
    return flat


class _Template(jinja2.Template):
    """Jinja2's Template whose context and imports read its globals as a plain dict, and whose output is
    escaped by ``_escape`` (see the module)."""

    @classmethod
    def from_code(
        cls,
        environment: jinja2.Environment,
        code: types.CodeType,
        globals: MutableMapping[str, Any],
        uptodate: Callable[[], bool] | None = None,
    ) -> jinja2.Template:
        template = super().from_code(environment, code, globals, uptodate)
        namespace = template.root_render_func.__globals__  # the compiled module's: root, blocks, macros
        if _escape_inner is not None:  # replaces the markupsafe.escape the compiled code imported
            namespace["escape"] = _escape
        return template

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> jinja2.runtime.Context:
        if shared or locals:  # Jinja2's own cases (includes, macros' caller blocks): unchanged
            return super().new_context(vars, shared, locals)
        globals = _flat(self.globals)
        parent = {**globals, **vars} if vars else dict(globals)
        env = self.environment
        return env.context_class(env, parent, self.name, self.blocks, globals=globals)

    @internalcode
    def _get_default_module(self, ctx: jinja2.runtime.Context | None = None) -> TemplateModule:
        # Jinja2's, with the difference of key sets taken in C: the importing context's globals that this
        # template lacks would need a module of its own; none (the usual case): the cached module.
        if self.environment.is_async:
            raise RuntimeError("Module is not available in async mode.")
        if ctx is not None:
            globals = self.globals
            maps = globals.maps if type(globals) is ChainMap else (globals,)
            keys = ctx.globals_keys.difference(*maps)
            if keys:
                return self.make_module({k: ctx.parent[k] for k in keys})
        if self._module is None:
            self._module = self.make_module()
        return self._module


def create_environment(
    folder: str | os.PathLike[str], auto_reload: bool, names: dict[str, Any]
) -> jinja2.Environment:
    """The app's template environment, loading from ``folder`` (UTF-8)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.fspath(folder), encoding="utf-8"),
        autoescape=True,
        auto_reload=auto_reload,  # stat() on every render only while developing
        cache_size=-1,  # a dict of every template loaded: an app's template files (see the module)
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.context_class = _Context  # type: ignore[misc]
    env.template_class = _Template
    env.globals.update(names)
    return env
