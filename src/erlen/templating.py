"""Jinja2 templating: the environment, its loader, ``render_template`` and friends.

The app's :attr:`~AppTemplatingMixin.jinja_env` is created on first use, so an app
that never renders a template never builds one. Its loader,
:class:`DispatchingJinjaLoader`, asks the app's template folder first and then each
blueprint's, in registration order; Jinja caches what it finds. The classes here
are mixins: :class:`AppTemplatingMixin` gives the app its template API,
:class:`BlueprintTemplatingMixin` the blueprint's ``app_template_*`` methods, and
both inherit :class:`ScaffoldTemplatingMixin` (``jinja_loader``).

May import: erlen.globals, erlen.signals, erlen.scaffold (``setupmethod``),
erlen.flashing, erlen.helpers, erlen.json.provider, erlen.typing. The app is
reached through the context variable or passed in.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import ChainMap
from collections.abc import Callable, Coroutine, Iterator
from functools import cached_property
from types import CoroutineType
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import BaseLoader, FileSystemLoader, Template, TemplateNotFound
from markupsafe import Markup
from werkzeug.datastructures import ImmutableDict

from . import typing as ft
from .flashing import get_flashed_messages
from .globals import _cv_ctx, g, request, session
from .json.provider import DefaultJSONProvider
from .scaffold import setupmethod
from .signals import before_render_template, template_rendered

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .blueprints import Blueprint, BlueprintSetupState
    from .config import Config
    from .scaffold import Scaffold

#: Template file endings rendered with autoescaping on.
_AUTOESCAPE_SUFFIXES = (".html", ".htm", ".xml", ".xhtml", ".svg")

_JINJA_RENDER = jinja2.Template.render

#: Jinja's default ``json.dumps_kwargs`` policy.
_SORTED = {"sort_keys": True}

_no_app_msg = """\
Working outside of application context.

Rendering a template needs the current application (its Jinja environment,
config and context processors). Render inside a view, or push a context first:
`with app.app_context():` (or `app.test_request_context()` to have `request`)."""


def _default_template_ctx_processor() -> dict[str, Any]:
    """Return ``g`` and ``request`` as the objects themselves, not proxies.

    Templates read them often; a real object skips a proxy lookup per access.
    ``session`` stays the global proxy: opening it is what marks it accessed.
    """
    ctx = _cv_ctx.get(None)
    if ctx is None:
        return {}
    req = ctx.request
    if req is None:
        return {"g": ctx.g}
    return {"g": ctx.g, "request": req}


# -- the environment and the loader ------------------------------------------------
class Environment(jinja2.Environment):
    """A Jinja environment that knows its app and loads from its folders.

    :param app: the application; kept as :attr:`app`.
    :param options: :class:`jinja2.Environment` options. Without ``loader``, the
        app's :meth:`~AppTemplatingMixin.create_global_jinja_loader` is used.
    """

    def __init__(self, app: Erlen, **options: Any) -> None:
        if "loader" not in options:
            options["loader"] = app.create_global_jinja_loader()
        super().__init__(**options)
        self.app = app


class DispatchingJinjaLoader(BaseLoader):
    """Find templates in the app's folder, then in each blueprint's folder.

    The first folder holding the name wins, in blueprint registration order. Set
    ``EXPLAIN_TEMPLATE_LOADING`` to log every folder tried.
    """

    def __init__(self, app: Erlen) -> None:
        self.app = app

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        """Return ``(source, filename, uptodate)`` from the first loader that has it.

        :raise jinja2.TemplateNotFound: when no folder holds ``template``.
        """
        if self.app.config["EXPLAIN_TEMPLATE_LOADING"]:
            return self._get_source_explained(environment, template)
        for _owner, loader in self._iter_loaders():
            try:
                return loader.get_source(environment, template)
            except TemplateNotFound:
                continue
        raise TemplateNotFound(template)

    def _get_source_explained(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        lines = [f"Locating template {template!r}:"]
        found: tuple[str, str | None, Callable[[], bool] | None] | None = None
        hits = 0
        for idx, (owner, loader) in enumerate(self._iter_loaders(), 1):
            lines.append(f"{idx:5}: trying loader of {_describe_owner(owner)}")
            searchpath = getattr(loader, "searchpath", None)
            if searchpath is not None:
                lines.extend(f"       searchpath: {path}" for path in searchpath)
            try:
                rv = loader.get_source(environment, template)
            except TemplateNotFound:
                lines.append("       -> no match")
                continue
            hits += 1
            if found is None:
                found = rv
            lines.append(f"       -> found ({rv[1] or '<string>'!r})")
        if hits == 0:
            lines.append("Error: the template could not be found.")
        elif hits > 1:
            lines.append("Warning: several loaders found the template; the first won.")
        ctx = _cv_ctx.get(None)
        blueprint = ctx.request.blueprint if ctx and ctx.request is not None else None
        if blueprint is not None and hits != 1:
            lines.append(
                f"  The template was requested while handling blueprint {blueprint!r};"
                " is it in that blueprint's template folder, under a unique"
                " subfolder?"
            )
        self.app.logger.info("\n".join(lines))
        if found is None:
            raise TemplateNotFound(template)
        return found

    def _iter_loaders(self) -> Iterator[tuple[Scaffold, BaseLoader]]:
        app = self.app
        loader = app.jinja_loader
        if loader is not None:
            yield app, loader
        for blueprint in app.iter_blueprints():
            loader = blueprint.jinja_loader
            if loader is not None:
                yield blueprint, loader

    def list_templates(self) -> list[str]:
        """Return the names of all templates of the app and its blueprints."""
        names: set[str] = set()
        for _owner, loader in self._iter_loaders():
            names.update(loader.list_templates())
        return list(names)


def _describe_owner(owner: Any) -> str:
    from .blueprints import Blueprint

    if isinstance(owner, Blueprint):
        return f"blueprint {owner.name!r} ({owner.import_name})"
    return f"application {owner.import_name!r}"


@jinja2.pass_environment
def _tojson_filter(env: Environment, value: Any, indent: int | None = None) -> Markup:
    """Dump ``value`` as JSON that is safe inside HTML, ``<script>`` included.

    ``<``, ``>``, ``&`` and ``'`` become ``\\u`` escapes, so the output can close
    neither a ``<script>`` element nor a single-quoted attribute.
    """
    policies = env.policies
    dumps = policies["json.dumps_function"]
    kwargs = policies["json.dumps_kwargs"]
    if indent is not None:
        kwargs = {**kwargs, "indent": indent}
    if dumps is None:
        # None (erlen's default) means the app's provider at render time, so a
        # provider assigned to ``app.json`` after the environment exists is used.
        provider = env.app.json
        dumps = provider.dumps
        if (
            kwargs == _SORTED
            and type(provider).dumps is DefaultJSONProvider.dumps
            and "dumps" not in provider.__dict__
            and provider.sort_keys is True
        ):
            # PERF: the provider already sorts keys; without keyword arguments
            # it takes its prepared-encoder path instead of json.dumps.
            kwargs = {}
    text = dumps(value, **kwargs)
    return Markup(
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )


# -- async context processors from an async view --------------------------------
_helper_loop: asyncio.AbstractEventLoop | None = None
_helper_lock = threading.Lock()


def _forget_helper_loop() -> None:
    global _helper_loop
    _helper_loop = None  # its thread does not exist in a forked child


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_forget_helper_loop)


def _run_on_helper_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on erlen's template helper thread and wait for its result.

    ``render_template`` is sync; in an ``async def`` view the thread's loop is
    busy running the view, so an async context processor runs on a loop of its
    own in one long-lived daemon thread (``erlen-templates``) meanwhile. This
    blocks the calling loop for its duration. The coroutine sees the caller's
    context variables (``request``, ``g``) but not its loop: it must not await
    objects bound to the server's loop.
    """
    global _helper_loop
    with _helper_lock:
        loop = _helper_loop
        if loop is None:
            loop = _helper_loop = asyncio.new_event_loop()
            threading.Thread(
                target=loop.run_forever, name="erlen-templates", daemon=True
            ).start()
    if asyncio._get_running_loop() is loop:
        coro.close()
        raise RuntimeError(
            "render_template was called from an async context processor while"
            " another one ran: make the context processors sync."
        )
    # run_coroutine_threadsafe copies the caller's context into the task.
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


# -- rendering ----------------------------------------------------------------------
def _current_app() -> Erlen:
    ctx = _cv_ctx.get(None)
    if ctx is None:
        raise RuntimeError(_no_app_msg)
    return ctx.app


def _render(app: Erlen, template: Template, context: dict[str, Any]) -> str:
    app.update_template_context(context)
    if before_render_template.receivers:
        before_render_template.send(
            app, _async_wrapper=app.ensure_sync, template=template, context=context
        )
    rv = _render_jinja(template, context)
    if template_rendered.receivers:
        template_rendered.send(
            app, _async_wrapper=app.ensure_sync, template=template, context=context
        )
    return rv


def _render_jinja(template: Template, context: dict[str, Any]) -> str:
    """Return ``template.render(context)``, building the template's namespace faster.

    :meth:`jinja2.Template.render` copies the template's globals, a ``ChainMap``,
    key by key in Python (two dozen calls for Flask's dozen globals). Unpacking
    the chain's plain dicts does the same merge in C; the rest is what ``render``
    does. Async environments and template classes with their own ``render`` take
    the documented path.
    """
    env = template.environment
    if env.is_async or type(template).render is not _JINJA_RENDER:
        return template.render(context)
    glb = template.globals
    if type(glb) is ChainMap and len(glb.maps) == 2:
        # PERF: 9.5 -> 3.3 µs for a one-line template (ChainMap lookups in Python).
        local, shared = glb.maps
        parent = {**shared, **local, **context}
    else:
        parent = {**glb, **context}
    try:
        return env.concat(  # type: ignore[no-any-return]
            template.root_render_func(template.new_context(parent, shared=True))
        )
    except Exception:
        env.handle_exception()  # re-raises with template line numbers


def render_template(
    template_name_or_list: str | Template | list[str | Template],
    **context: Any,
) -> str:
    """Render a template from the template folders with ``context``.

    :param template_name_or_list: a template name, a :class:`jinja2.Template`,
        or a list of them: the first that exists is rendered.
    :param context: variables for the template; they win over names that
        context processors provide.
    :raise jinja2.TemplateNotFound: when no folder holds the template.
    :raise RuntimeError: outside an application context.

    Example::

        return render_template("user.html", user=user)
    """
    app = _current_app()
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _render(app, template, context)


def render_template_string(source: str, **context: Any) -> str:
    """Render the template source ``source`` with ``context`` (autoescaped).

    Example: ``render_template_string("Hi {{ name }}", name=name)``.
    """
    app = _current_app()
    template = app.jinja_env.from_string(source)
    return _render(app, template, context)


def _stream(app: Erlen, template: Template, context: dict[str, Any]) -> Iterator[str]:
    app.update_template_context(context)
    if before_render_template.receivers:
        before_render_template.send(
            app, _async_wrapper=app.ensure_sync, template=template, context=context
        )

    def generate() -> Iterator[str]:
        yield from template.generate(context)
        if template_rendered.receivers:
            template_rendered.send(
                app, _async_wrapper=app.ensure_sync, template=template, context=context
            )

    rv = generate()
    ctx = _cv_ctx.get(None)
    if ctx is not None and ctx.request is not None:
        # Keep `request`, `session` and `url_for` usable while the body streams.
        from .helpers import stream_with_context

        rv = stream_with_context(rv)
    return rv  # type: ignore[no-any-return]


def stream_template(
    template_name_or_list: str | Template | list[str | Template],
    **context: Any,
) -> Iterator[str]:
    """Render a template piece by piece, as an iterator of strings.

    Return it from a view to stream the response; the request context stays
    available while it is consumed.

    Example::

        return stream_template("big_report.html", rows=rows)
    """
    app = _current_app()
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _stream(app, template, context)


def stream_template_string(source: str, **context: Any) -> Iterator[str]:
    """Render the template source ``source`` as an iterator of strings."""
    app = _current_app()
    template = app.jinja_env.from_string(source)
    return _stream(app, template, context)


def get_template_attribute(template_name: str, attribute: str) -> Any:
    """Return a macro or variable that template ``template_name`` exports.

    Example (``_macros.html`` defines ``{% macro hello(name) %}``)::

        hello = get_template_attribute("_macros.html", "hello")
        hello("World")
    """
    template = _current_app().jinja_env.get_template(template_name)
    return getattr(template.module, attribute)


# -- mixins -------------------------------------------------------------------------
def _decorator(add: Callable[..., None], name: Any) -> Any:
    """Return a decorator registering with ``add(f, name)``, or register at once.

    ``name`` is the function itself when the decorator is used without
    parentheses (``@app.template_filter``); then it is registered under its name.
    """
    if callable(name):
        add(name, None)
        return name

    def decorator(f: Any) -> Any:
        add(f, name)
        return f

    return decorator


class ScaffoldTemplatingMixin:
    """The template folder of an app or blueprint, as a Jinja loader."""

    root_path: str
    template_folder: str | os.PathLike[str] | None

    @cached_property
    def jinja_loader(self) -> BaseLoader | None:
        """A :class:`jinja2.FileSystemLoader` over the template folder, or None."""
        if self.template_folder is None:
            return None
        return FileSystemLoader(os.path.join(self.root_path, self.template_folder))


class AppTemplatingMixin(ScaffoldTemplatingMixin):
    """The application's template API: environment, filters, tests, globals."""

    #: The environment class :meth:`create_jinja_environment` instantiates.
    jinja_environment: type[Environment] = Environment
    #: Options for the Jinja environment; changes after it exists have no effect.
    jinja_options: dict[str, Any] = ImmutableDict()

    if TYPE_CHECKING:  # pragma: no cover
        config: Config
        debug: bool
        template_context_processors: dict[
            str | None, list[ft.TemplateContextProcessorCallable]
        ]
        _plan: Any

        def url_for(self, endpoint: str, **values: Any) -> str: ...
        def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]: ...
        def iter_blueprints(self) -> Iterator[Blueprint]: ...
        def _check_setup_finished(self, f_name: str) -> None: ...

    @cached_property
    def jinja_env(self) -> Environment:
        """The Jinja environment, created on first access.

        Filters, tests and globals registered before then are added to it now.
        """
        env = self.create_jinja_environment()
        # The cached value lands in ``self.__dict__["jinja_env"]`` (where the debug
        # setter looks for it); registrations made before it existed wait here.
        for kind, name, obj in self.__dict__.pop("_erlen_jinja_pending", ()):
            getattr(env, kind)[name] = obj
        return env

    def create_jinja_environment(self) -> Environment:
        """Create the Jinja environment from :attr:`jinja_options` and the config.

        Autoescaping follows :meth:`select_jinja_autoescape`; ``auto_reload``
        follows ``TEMPLATES_AUTO_RELOAD``, or debug mode when that is None.
        Templates see ``config``, ``request``, ``session``, ``g``, ``url_for`` and
        ``get_flashed_messages``. Override to customise the environment.
        """
        options = dict(self.jinja_options)
        if "autoescape" not in options:
            options["autoescape"] = self.select_jinja_autoescape
        if "auto_reload" not in options:
            auto_reload = self.config["TEMPLATES_AUTO_RELOAD"]
            if auto_reload is None:
                auto_reload = self.debug
            options["auto_reload"] = auto_reload
        env = self.jinja_environment(self, **options)  # type: ignore[arg-type]
        env.globals.update(
            url_for=self.url_for,
            get_flashed_messages=get_flashed_messages,
            config=self.config,
            # The context processor puts the real request and g into each render's
            # context; the proxies serve imported templates, which get no context.
            request=request,
            session=session,
            g=g,
        )
        # None: `|tojson` dumps with the app's current JSON provider.
        env.policies["json.dumps_function"] = None
        env.filters["tojson"] = _tojson_filter
        return env

    def create_global_jinja_loader(self) -> DispatchingJinjaLoader:
        """Return the loader over the app's and the blueprints' template folders."""
        return DispatchingJinjaLoader(self)  # type: ignore[arg-type]

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        """Tell whether to autoescape template ``filename`` (None: a string).

        True for template strings and for ``.html``, ``.htm``, ``.xml``,
        ``.xhtml`` and ``.svg`` files.
        """
        if filename is None:
            return True
        return filename.endswith(_AUTOESCAPE_SUFFIXES)

    def update_template_context(self, context: dict[str, Any]) -> None:
        """Add ``g``, ``request`` and the context processors' names to ``context``.

        The app's processors run first, then those of the request's blueprints
        from outermost to innermost. Names already in ``context`` are kept.
        """
        extra = _default_template_ctx_processor()
        req = extra.get("request")
        funcs = self._template_context_funcs(req.blueprint if req is not None else None)
        for func in funcs:
            rv = func()
            if type(rv) is CoroutineType:
                # An async processor, called where this thread's loop runs (an
                # async view): that loop cannot run it while we wait here.
                rv = _run_on_helper_loop(rv)
            extra.update(rv)
        extra.update(context)
        context.update(extra)

    def _template_context_funcs(self, blueprint: str | None) -> tuple[Any, ...]:
        """Return the context processors for a request of ``blueprint``, in order.

        Computed once per blueprint while the app's plan stands: setup is closed
        then, so the chain cannot change (a new plan drops the cache).
        """
        plan = self._plan
        cache = self.__dict__.get("_erlen_tcp_cache")
        if plan is not None and cache is not None and cache[0] is plan:
            funcs = cache[1].get(blueprint)
            if funcs is not None:
                return funcs  # type: ignore[no-any-return]
        names: list[str | None] = [None]
        if blueprint is not None:
            parts = blueprint.split(".")
            names.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        procs = self.template_context_processors
        ensure_sync = self.ensure_sync
        funcs = tuple(ensure_sync(f) for name in names for f in procs.get(name, ()))
        if plan is not None:
            if cache is None or cache[0] is not plan:
                cache = self.__dict__["_erlen_tcp_cache"] = (plan, {})
            cache[1][blueprint] = funcs
        return funcs

    def _jinja_register(self, kind: str, name: str, obj: Any) -> None:
        env = self.__dict__.get("jinja_env")
        if env is not None:
            getattr(env, kind)[name] = obj
        else:
            # PERF: no environment just to hold a filter; it is built on first use.
            self.__dict__.setdefault("_erlen_jinja_pending", []).append(
                (kind, name, obj)
            )

    @setupmethod
    def template_filter(self, name: str | None = None) -> Callable[[Any], Any]:
        """Register the decorated function as a template filter.

        Example::

            @app.template_filter("reverse")
            def reverse_filter(s):
                return s[::-1]
        """
        return _decorator(self.add_template_filter, name)

    @setupmethod
    def add_template_filter(
        self, f: ft.TemplateFilterCallable, name: str | None = None
    ) -> None:
        """Register ``f`` as a template filter named ``name`` (default its name)."""
        self._jinja_register("filters", name or f.__name__, f)

    @setupmethod
    def template_test(self, name: str | None = None) -> Callable[[Any], Any]:
        """Register the decorated function as a template test.

        Example: ``@app.template_test()`` over ``def even(n): return n % 2 == 0``
        allows ``{% if x is even %}``.
        """
        return _decorator(self.add_template_test, name)

    @setupmethod
    def add_template_test(
        self, f: ft.TemplateTestCallable, name: str | None = None
    ) -> None:
        """Register ``f`` as a template test named ``name`` (default its name)."""
        self._jinja_register("tests", name or f.__name__, f)

    @setupmethod
    def template_global(self, name: str | None = None) -> Callable[[Any], Any]:
        """Register the decorated function as a template global.

        Example: ``@app.template_global()`` over ``def double(n): return 2 * n``
        allows ``{{ double(2) }}``.
        """
        return _decorator(self.add_template_global, name)

    @setupmethod
    def add_template_global(
        self, f: ft.TemplateGlobalCallable, name: str | None = None
    ) -> None:
        """Register ``f`` as a template global named ``name`` (default its name)."""
        self._jinja_register("globals", name or f.__name__, f)


class BlueprintTemplatingMixin(ScaffoldTemplatingMixin):
    """The blueprint's ``app_template_*`` API: registrations made on the app."""

    if TYPE_CHECKING:  # pragma: no cover

        def record_once(self, func: Callable[[BlueprintSetupState], None]) -> None: ...
        def _check_setup_finished(self, f_name: str) -> None: ...

    @setupmethod
    def app_template_filter(self, name: str | None = None) -> Callable[[Any], Any]:
        """Like :meth:`Erlen.template_filter`, registered when the blueprint is."""
        return _decorator(self.add_app_template_filter, name)

    @setupmethod
    def add_app_template_filter(
        self, f: ft.TemplateFilterCallable, name: str | None = None
    ) -> None:
        """Like :meth:`Erlen.add_template_filter`, applied at registration."""
        self.record_once(lambda s: s.app.add_template_filter(f, name))

    @setupmethod
    def app_template_test(self, name: str | None = None) -> Callable[[Any], Any]:
        """Like :meth:`Erlen.template_test`, registered when the blueprint is."""
        return _decorator(self.add_app_template_test, name)

    @setupmethod
    def add_app_template_test(
        self, f: ft.TemplateTestCallable, name: str | None = None
    ) -> None:
        """Like :meth:`Erlen.add_template_test`, applied at registration."""
        self.record_once(lambda s: s.app.add_template_test(f, name))

    @setupmethod
    def app_template_global(self, name: str | None = None) -> Callable[[Any], Any]:
        """Like :meth:`Erlen.template_global`, registered when the blueprint is."""
        return _decorator(self.add_app_template_global, name)

    @setupmethod
    def add_app_template_global(
        self, f: ft.TemplateGlobalCallable, name: str | None = None
    ) -> None:
        """Like :meth:`Erlen.add_template_global`, applied at registration."""
        self.record_once(lambda s: s.app.add_template_global(f, name))


__all__ = [
    "AppTemplatingMixin",
    "BlueprintTemplatingMixin",
    "DispatchingJinjaLoader",
    "Environment",
    "ScaffoldTemplatingMixin",
    "get_template_attribute",
    "render_template",
    "render_template_string",
    "stream_template",
    "stream_template_string",
]
