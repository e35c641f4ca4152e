"""The application object :class:`Erlen` (exported as ``Flask`` too).

Holds setup (config, URL map, registration, blueprints, contexts, URL building)
and the protocol-free request pipeline (:mod:`erlen.pipeline`). The WSGI entry
point lives in :mod:`erlen.wsgi` and is attached here as ``wsgi_app``, so the app
object itself is the WSGI callable with no extra call per request.

May import: erlen.scaffold, erlen.pipeline, erlen.routing, erlen.wrappers, erlen.ctx,
erlen.globals, erlen.config, erlen.json, erlen.sessions, erlen.logging,
erlen.signals, erlen.helpers, erlen.wsgi (the adapter it exposes).
"""

from __future__ import annotations

import logging
import os
import sys
import weakref
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from werkzeug.datastructures import ImmutableDict
from werkzeug.routing import BuildError

from . import signals
from . import typing as ft
from .asgi import asgi_app as _asgi_app
from .cli import AppGroup
from .config import DEFAULT_CONFIG, Config, ConfigAttribute, make_timedelta
from .ctx import AppContext, RequestContext, _AppCtxGlobals
from .globals import _cv_ctx
from .helpers import get_debug_flag
from .json.provider import default_provider_class
from .pipeline import Pipeline
from .routing import Map, Rule
from .scaffold import Scaffold, _endpoint_from_view_func, setupmethod
from .sessions import SecureCookieSessionInterface
from .templating import AppTemplatingMixin
from .wrappers import Request, Response
from .wsgi import wsgi_app as _wsgi_app

if TYPE_CHECKING:  # pragma: no cover
    from .blueprints import Blueprint
    from .sessions import SessionMixin
    from .testing import ErlenClient, ErlenCliRunner

F = TypeVar("F", bound=Callable[..., Any])

_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"
_WS_SCHEMES = {"http": "ws", "https": "wss"}
_HTTP_SCHEMES = {"ws": "http", "wss": "https"}

# Apps alive in this process; a signal gaining a receiver clears their plans so the
# next request rechecks which work it must do.
_live_apps: weakref.WeakSet[Erlen] = weakref.WeakSet()


def _on_receiver_connected(_signal: Any, **kwargs: Any) -> None:
    for app in list(_live_apps):
        app._plan = None


for _sig in (
    signals.request_started,
    signals.request_finished,
    signals.request_tearing_down,
    signals.got_request_exception,
    signals.appcontext_pushed,
    signals.appcontext_popped,
    signals.appcontext_tearing_down,
):
    _sig.receiver_connected.connect(_on_receiver_connected, weak=False)


class Erlen(AppTemplatingMixin, Pipeline, Scaffold):
    """The application: a WSGI callable with Flask's programming model.

    Example::

        from erlen import Erlen
        app = Erlen(__name__)

        @app.route("/")
        def index():
            return "Hello"

    :param import_name: the app's module or package name, usually ``__name__``.
    :param static_url_path: URL prefix for static files (default ``/static``).
    :param static_folder: folder of static files, relative to ``root_path``.
    :param static_host: host for the static route when ``host_matching`` is on.
    :param host_matching: match rules by their ``host`` argument.
    :param subdomain_matching: match rules' ``subdomain`` against SERVER_NAME.
    :param template_folder: folder of templates, relative to ``root_path``.
    :param instance_path: folder for instance files; default ``instance/`` next
        to the app (or under ``var/`` for installed packages).
    :param instance_relative_config: load config files relative to it.
    :param root_path: override the folder derived from ``import_name``.
    """

    request_class: type[Request] = Request
    response_class: type[Response] = Response
    app_ctx_globals_class = _AppCtxGlobals
    config_class = Config
    url_rule_class = Rule
    url_map_class = Map
    test_client_class: type[ErlenClient] | None = None
    test_cli_runner_class: type[Any] | None = None
    json_provider_class = default_provider_class()
    session_interface = SecureCookieSessionInterface()
    jinja_options: dict[str, Any] = ImmutableDict()

    testing = ConfigAttribute[bool]("TESTING")
    secret_key = ConfigAttribute[str | bytes | None]("SECRET_KEY")
    permanent_session_lifetime = ConfigAttribute[timedelta](
        "PERMANENT_SESSION_LIFETIME",
        get_converter=make_timedelta,  # type: ignore[arg-type]
    )

    default_config = ImmutableDict(DEFAULT_CONFIG)

    def __init__(
        self,
        import_name: str,
        static_url_path: str | None = None,
        static_folder: str | os.PathLike[str] | None = "static",
        static_host: str | None = None,
        host_matching: bool = False,
        subdomain_matching: bool = False,
        template_folder: str | os.PathLike[str] | None = "templates",
        instance_path: str | None = None,
        instance_relative_config: bool = False,
        root_path: str | None = None,
    ) -> None:
        super().__init__(
            import_name=import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        if instance_path is None:
            instance_path = self.auto_find_instance_path()
        elif not os.path.isabs(instance_path):
            raise ValueError(
                "If an instance path is provided it must be absolute."
                " A relative path was given instead."
            )
        self.instance_path = instance_path
        self.config = self.make_config(instance_relative_config)
        self.json = self.json_provider_class(self)
        self.aborter = self.make_aborter()
        self.url_build_error_handlers: list[
            Callable[[Exception, str, dict[str, Any]], str]
        ] = []
        self.teardown_appcontext_funcs: list[ft.TeardownCallable] = []
        self.shell_context_processors: list[ft.ShellContextProcessorCallable] = []
        #: ASGI lifespan work (see :mod:`erlen.lifespan`).
        self.before_serving_funcs: list[Callable[[], Any]] = []
        self.after_serving_funcs: list[Callable[[], Any]] = []
        self.lifespan_contexts: list[Callable[[Erlen], Any]] = []
        self.blueprints: dict[str, Blueprint] = {}
        self.extensions: dict[str, Any] = {}
        #: The app's click commands, run as ``erlen <command>`` (erlen.cli).
        self.cli: AppGroup = AppGroup(self.name)
        self.url_map = self.url_map_class(host_matching=host_matching)
        self.subdomain_matching = subdomain_matching
        self._got_first_request = False
        #: Work this app does per request, computed at the first request.
        self._plan: Any = None
        _live_apps.add(self)

        if self.has_static_folder:
            if bool(static_host) != host_matching:
                raise ValueError(
                    "Invalid static_host/host_matching combination: pass static_host"
                    " exactly when host_matching=True."
                )
            self_ref = weakref.ref(self)
            self.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                endpoint="static",
                host=static_host,
                view_func=lambda **kw: self_ref().send_static_file(**kw),  # type: ignore[union-attr]
            )

    # -- identity, config, logging -----------------------------------------------
    @property
    def name(self) -> str:
        """The app's name: its import name, or the script's name under ``__main__``."""
        if self.import_name == "__main__":
            fn = getattr(sys.modules["__main__"], "__file__", None)
            if fn is None:
                return "__main__"
            return os.path.splitext(os.path.basename(fn))[0]
        return self.import_name

    @property
    def logger(self) -> logging.Logger:
        """The ``logging.Logger`` named after the app (created on first use)."""
        logger = self.__dict__.get("_logger")
        if logger is None:
            from .logging import create_logger

            logger = self.__dict__["_logger"] = create_logger(self)
        return logger

    @property
    def debug(self) -> bool:
        """Whether debug mode is on (the ``DEBUG`` config key)."""
        return bool(self.config["DEBUG"])

    @debug.setter
    def debug(self, value: bool) -> None:
        self.config["DEBUG"] = value
        if (
            self.config["TEMPLATES_AUTO_RELOAD"] is None
            and "jinja_env" in self.__dict__
        ):
            self.__dict__["jinja_env"].auto_reload = value
        self._plan = None

    def make_config(self, instance_relative: bool = False) -> Config:
        """Create the config object, filled with the defaults."""
        root_path = self.instance_path if instance_relative else self.root_path
        defaults = dict(self.default_config)
        defaults["DEBUG"] = get_debug_flag()
        return self.config_class(root_path, defaults)

    def auto_find_instance_path(self) -> str:
        """Return ``instance/`` beside the app, or ``<prefix>/var/<name>-instance``."""
        prefix, package_path = _find_package(self.import_name)
        if prefix is None:
            return os.path.join(package_path, "instance")
        return os.path.join(prefix, "var", f"{self.name}-instance")

    def open_instance_resource(
        self, resource: str, mode: str = "rb", encoding: str | None = "utf-8"
    ) -> Any:
        """Open a file relative to :attr:`instance_path` (may write)."""
        path = os.path.join(self.instance_path, resource)
        if "b" in mode:
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    def redirect(self, location: str, code: int = 302) -> Response:
        """Return a redirect response; :func:`erlen.redirect` calls this."""
        from .helpers import _make_redirect

        return _make_redirect(self.response_class, location, code)

    def make_aborter(self) -> Any:
        """Create the object :func:`erlen.abort` calls to raise HTTP errors."""
        from .helpers import Aborter

        return Aborter()

    # -- setup lifecycle ----------------------------------------------------------------
    def _check_setup_finished(self, f_name: str) -> None:
        if self._got_first_request:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the"
                " application. It has already handled its first request, so changes"
                " would not apply consistently.\nDo all setup (imports, decorators,"
                " blueprint registration) before the app serves requests."
            )

    # -- routing ------------------------------------------------------------------------
    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Register a URL rule; the imperative twin of :meth:`route`.

        Example: ``app.add_url_rule("/", "index", index, methods=["GET"])``
        """
        if endpoint is None:
            endpoint = _endpoint_from_view_func(view_func)
        options["endpoint"] = endpoint
        methods = options.pop("methods", None)
        if methods is None:
            methods = getattr(view_func, "methods", None) or ("GET",)
        if isinstance(methods, str):
            raise TypeError(
                "Allowed methods must be a list of strings, for example:"
                ' @app.route(..., methods=["POST"])'
            )
        methods = {item.upper() for item in methods}
        required_methods = set(getattr(view_func, "required_methods", ()))
        if provide_automatic_options is None:
            provide_automatic_options = getattr(
                view_func, "provide_automatic_options", None
            )
        if provide_automatic_options is None:
            if "OPTIONS" not in methods and self.config["PROVIDE_AUTOMATIC_OPTIONS"]:
                provide_automatic_options = True
                required_methods.add("OPTIONS")
            else:
                provide_automatic_options = False
        methods |= required_methods

        rule_obj = self.url_rule_class(rule, methods=methods, **options)
        rule_obj.provide_automatic_options = provide_automatic_options
        self.url_map.add(rule_obj)
        if view_func is not None:
            old_func = self.view_functions.get(endpoint)
            if old_func is not None and old_func != view_func:
                raise AssertionError(
                    "View function mapping is overwriting an existing"
                    f" endpoint function: {endpoint}"
                )
            self.view_functions[endpoint] = view_func
        self._plan = None

    @setupmethod
    def teardown_appcontext(self, f: ft.T_teardown) -> ft.T_teardown:
        """Run ``f(exc)`` when the application context is popped."""
        self.teardown_appcontext_funcs.append(f)
        return f

    @setupmethod
    def shell_context_processor(
        self, f: ft.T_shell_context_processor
    ) -> ft.T_shell_context_processor:
        """Add names returned by ``f()`` to the ``erlen shell`` namespace."""
        self.shell_context_processors.append(f)
        return f

    @setupmethod
    def before_serving(self, f: F) -> F:
        """Run ``f()`` (sync or async) once per ASGI worker, before it serves.

        Runs inside an application context, during the lifespan startup.
        """
        self.before_serving_funcs.append(f)
        return f

    @setupmethod
    def after_serving(self, f: F) -> F:
        """Run ``f()`` (sync or async) once per ASGI worker, at shutdown."""
        self.after_serving_funcs.append(f)
        return f

    @setupmethod
    def lifespan(self, factory: F) -> F:
        """Register an async context manager factory ``factory(app)``.

        It is entered at ASGI startup and exited at shutdown::

            @app.lifespan
            @contextlib.asynccontextmanager
            async def pool(app):
                app.extensions["pool"] = await create_pool()
                yield
                await app.extensions["pool"].close()
        """
        self.lifespan_contexts.append(factory)
        return factory

    @setupmethod
    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        """Register a blueprint's routes, hooks and handlers on the app.

        Options override the blueprint's: ``url_prefix``, ``subdomain``,
        ``url_defaults``, ``name``.
        """
        blueprint.register(self, options)

    def iter_blueprints(self) -> Iterator[Blueprint]:
        """Iterate over registered blueprints in registration order."""
        return iter(self.blueprints.values())

    # -- contexts -----------------------------------------------------------------------
    def app_context(self) -> AppContext:
        """Return a new application context (use it with ``with``)."""
        return AppContext(self)

    def request_context(self, environ: ft.WSGIEnvironment) -> RequestContext:
        """Return a new request context for a WSGI environ."""
        return RequestContext(self, environ)

    def test_request_context(self, *args: Any, **kwargs: Any) -> RequestContext:
        """Return a request context built from test-client style arguments.

        Example::

            with app.test_request_context("/search?q=x", method="POST"):
                assert request.args["q"] == "x"
        """
        from .testing import EnvironBuilder

        builder = EnvironBuilder(self, *args, **kwargs)
        try:
            return self.request_context(builder.get_environ())
        finally:
            builder.close()

    def test_cli_runner(self, **kwargs: Any) -> ErlenCliRunner:
        """Return a runner for testing the app's CLI commands (erlen.testing)."""
        cls = self.test_cli_runner_class
        if cls is None:
            from .testing import ErlenCliRunner as cls
        return cls(self, **kwargs)  # type: ignore[no-any-return]

    def test_client(self, use_cookies: bool = True, **kwargs: Any) -> ErlenClient:
        """Return a test client for this app (see :mod:`erlen.testing`)."""
        cls = self.test_client_class
        if cls is None:
            from .testing import ErlenClient as cls  # type: ignore[assignment]
        return cls(self, self.response_class, use_cookies=use_cookies, **kwargs)  # type: ignore[misc]

    def open_session(self, request: Request) -> SessionMixin:
        """Open the session for ``request`` (a null session when unavailable)."""
        iface = self.session_interface
        sess = iface.open_session(self, request)
        if sess is None:
            sess = iface.make_null_session(self)
        return sess

    # -- URL building ---------------------------------------------------------------------
    def url_for(
        self,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: Any,
    ) -> str:
        """Build a URL for ``endpoint``; see :func:`erlen.url_for`."""
        ctx = _cv_ctx.get(None)
        req = ctx.request if ctx is not None else None
        server_name = self.config["SERVER_NAME"]
        if req is not None:
            if endpoint[:1] == ".":
                bp = req.blueprint
                endpoint = f"{bp}{endpoint}" if bp is not None else endpoint[1:]
            if _external is None:
                _external = _scheme is not None
            script_root = req.script_root
            scheme = req.scheme
            host = server_name or req.host
        else:
            if server_name is None:
                raise RuntimeError(
                    "Unable to build URLs outside an active request without"
                    " 'SERVER_NAME' configured. Also configure 'APPLICATION_ROOT'"
                    " and 'PREFERRED_URL_SCHEME' as needed."
                )
            if _external is None:
                _external = True
            script_root = (self.config["APPLICATION_ROOT"] or "").rstrip("/")
            scheme = self.config["PREFERRED_URL_SCHEME"]
            host = server_name
        if _scheme is not None and not _external:
            raise ValueError("When specifying '_scheme', '_external' must be True.")

        self.inject_url_defaults(endpoint, values)
        try:
            rule, domain, path = self.url_map.build_rule(
                endpoint,
                values,
                _method,
                default_method=req.method if req is not None else "GET",
            )
        except BuildError as error:
            values.update(
                _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external
            )
            return self.handle_url_build_error(error, endpoint, values)

        if domain:
            if self.url_map.host_matching:
                if req is None or domain != req.host:
                    _external = True
                host = domain
            else:
                base = server_name or (req.host if req is not None else "")
                full = f"{domain}.{base}"
                if req is None or full != req.host:
                    _external = True
                host = full
        rv = f"{script_root}{path}"
        if _external:
            scheme = _scheme or scheme
            # A WebSocket endpoint gets ws/wss, an HTTP one http/https, whichever
            # protocol the current request came in on (docs/websockets.md).
            if rule.websocket:
                scheme = _WS_SCHEMES.get(scheme, scheme)
            elif scheme in _HTTP_SCHEMES:
                scheme = _HTTP_SCHEMES[scheme]
            rv = f"{scheme}://{host}{rv}"
        if _anchor is not None:
            rv = f"{rv}#{quote(_anchor, safe=_ANCHOR_SAFE)}"
        return rv

    def inject_url_defaults(self, endpoint: str, values: dict[str, Any]) -> None:
        """Call the url_defaults functions of the app and the endpoint's blueprints."""
        funcs = self.url_default_functions
        if not funcs:
            return
        names: list[str | None] = [None]
        if "." in endpoint:
            parts = endpoint.rpartition(".")[0].split(".")
            names.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        for name in names:
            for func in funcs.get(name, ()):
                func(endpoint, values)

    def handle_url_build_error(
        self, error: BuildError, endpoint: str, values: dict[str, Any]
    ) -> str:
        """Try each ``url_build_error_handlers`` entry; re-raise if none returns."""
        for handler in self.url_build_error_handlers:
            try:
                rv = handler(error, endpoint, values)
            except BuildError as e:
                error = e
            else:
                if rv is not None:
                    return rv
        if error is sys.exc_info()[1]:
            raise
        raise error

    # -- running ------------------------------------------------------------------------
    def run(
        self,
        host: str | None = None,
        port: int | None = None,
        debug: bool | None = None,
        load_dotenv: bool = True,
        **options: Any,
    ) -> None:
        """Serve the app with the development server (uvicorn) until Ctrl-C.

        As ``erlen run``: HTTP and WebSockets, a banner, reloading in debug mode.
        Call it under ``if __name__ == "__main__":``; it does nothing (with a
        warning) under the ``erlen`` command or a production server. Example::

            if __name__ == "__main__":
                app.run(debug=True)

        :param host: interface to bind; default from ``SERVER_NAME``, else
            ``127.0.0.1``.
        :param port: port to bind; default from ``SERVER_NAME``, else 5000.
        :param debug: set debug mode (and reloading, unless ``use_reloader``).
        :param load_dotenv: load ``.env`` and ``.erlenenv`` first.
        :param options: ``use_reloader``, ``use_debugger``, ``threaded``,
            ``extra_files``, ``exclude_patterns``, ``ssl_context`` (a
            ``(certfile, keyfile)`` pair); see :func:`erlen.serving.run_app`.
        """
        from .serving import run_app

        run_app(self, host, port, debug, load_dotenv, **options)

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """Return the cache max-age for ``filename`` (SEND_FILE_MAX_AGE_DEFAULT)."""
        value = self.config["SEND_FILE_MAX_AGE_DEFAULT"]
        if value is None:
            return None
        if isinstance(value, timedelta):
            return int(value.total_seconds())
        return int(value)

    # -- protocol entry points ---------------------------------------------------------
    wsgi_app = _wsgi_app
    asgi_app = _asgi_app

    def __call__(
        self, environ_or_scope: Any, start_response_or_receive: Any, send: Any = None
    ) -> Any:
        """Serve one WSGI request, or return the coroutine for one ASGI connection.

        WSGI servers call ``app(environ, start_response)`` (PEP 3333); ASGI servers
        ``await app(scope, receive, send)`` (ASGI 3). They go to :attr:`wsgi_app`
        and :attr:`asgi_app`, which middleware may wrap.
        """
        if send is None:
            return self.wsgi_app(environ_or_scope, start_response_or_receive)
        return self.asgi_app(environ_or_scope, start_response_or_receive, send)


def _mark_asgi_callable(func: Any) -> None:
    """Let servers that auto-detect the interface see an ASGI 3 callable.

    uvicorn and hypercorn treat an app whose ``__call__`` is a coroutine
    function as ASGI 3. ``Erlen.__call__`` is a plain function (it serves WSGI
    too) that returns a coroutine when called with three arguments, so mark it:
    on Python 3.12+ with ``inspect.markcoroutinefunction`` (both servers), on
    3.11 with asyncio's marker (uvicorn; hypercorn then needs ``asgi:app``).
    WSGI servers do not look at the mark.
    """
    import inspect

    mark = getattr(inspect, "markcoroutinefunction", None)
    if mark is not None:
        mark(func)
        return
    import asyncio.coroutines

    marker = getattr(asyncio.coroutines, "_is_coroutine", None)
    if marker is not None:
        func._is_coroutine = marker


_mark_asgi_callable(Erlen.__call__)


def _find_package(import_name: str) -> tuple[str | None, str]:
    """Return (install prefix or None, folder) for the top-level package."""
    import importlib.util

    root_mod_name = import_name.partition(".")[0]
    try:
        spec = importlib.util.find_spec(root_mod_name)
    except (ImportError, ValueError):
        spec = None
    if (
        spec is None
        or root_mod_name == "__main__"
        or spec.origin in (None, "namespace")
    ):
        package_path = os.getcwd()
        if spec is not None and spec.submodule_search_locations:
            package_path = os.path.dirname(next(iter(spec.submodule_search_locations)))
    elif spec.submodule_search_locations:
        package_path = os.path.dirname(os.path.dirname(spec.origin))  # type: ignore[arg-type]
    else:
        package_path = os.path.dirname(spec.origin)  # type: ignore[arg-type]

    py_prefix = os.path.abspath(sys.prefix)
    if package_path.startswith(py_prefix + os.sep):
        return py_prefix, package_path
    site_parent, site_folder = os.path.split(package_path)
    if site_folder.lower() == "site-packages":
        parent, folder = os.path.split(site_parent)
        if folder.lower() == "lib":
            return parent, package_path
        if os.path.basename(parent).lower() == "lib":
            return os.path.dirname(parent), package_path
        return site_parent, package_path
    return None, package_path
