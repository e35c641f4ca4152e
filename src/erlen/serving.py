"""The development server behind ``erlen run`` and ``app.run()``: uvicorn.

erlen's dev server is `uvicorn <https://www.uvicorn.org/>`_ driving the app's
ASGI side, so HTTP views and WebSocket routes both work, with keep-alive and
concurrent connections. erlen only configures it:

- the app is served with ``interface="asgi3"`` and the lifespan protocol on
  (``before_serving`` / ``after_serving`` / ``lifespan`` run);
- uvicorn's own start-up lines are hidden, so the banner comes first, then one
  access line per request; reload notices and errors still show;
- reloading is uvicorn's (watchfiles): a supervisor process watches the
  working directory and the app's folders for Python sources, templates and
  ``extra_files``, and restarts a child process that imports the app again.
  The child finds the app through :func:`_reload_factory`, which reads what to
  load from the ``ERLEN_DEV_SERVER`` environment variable the parent sets;
- ``threaded=False`` sets ``ASGI_THREADS`` to 1: sync views run one at a time
  (async views and connections stay concurrent).

:func:`run_app` is :meth:`erlen.Erlen.run`: Flask's ``app.run()`` rules (it
steps aside under the ``erlen`` command and under production servers).

May import: erlen.discovery, erlen.cli (lazily: the banner, ScriptInfo and the
app the command already loaded). The app is passed in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from .discovery import NoAppException, _is_app

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen

__all__ = ["TEMPLATE_PATTERNS", "production_server", "run_app", "serve"]

#: Carries what the reloaded child process loads (JSON); set while serving.
_ENV = "ERLEN_DEV_SERVER"
#: The import string uvicorn's reload child calls to build the app.
_FACTORY = "erlen.serving:_reload_factory"
#: File names (globs matched against the end of a path) that count as templates.
TEMPLATE_PATTERNS = ("*.html", "*.htm", "*.jinja", "*.jinja2", "*.j2")
#: Seconds a stopping server waits for requests in flight before cancelling them.
_GRACEFUL_SHUTDOWN = 3

#: Programs that are production servers: ``app.run()`` under them does nothing.
_SERVER_PROGRAMS = frozenset(
    {
        "gunicorn",
        "uvicorn",
        "hypercorn",
        "granian",
        "daphne",
        "uwsgi",
        "waitress-serve",
        "mod_wsgi-express",
    }
)
#: Modules that exist only inside an embedding server.
_EMBEDDED_MODULES = ("uwsgi", "mod_wsgi")

#: Options of Flask's ``app.run()`` (Werkzeug's ``run_simple``) the dev server has.
#: ``use_evalex`` is accepted and has no effect: erlen's debug page has no console.
_RUN_OPTIONS = frozenset(
    {
        "use_reloader",
        "use_debugger",
        "use_evalex",
        "threaded",
        "extra_files",
        "exclude_patterns",
        "ssl_context",
    }
)


class _DropForcedLifespanError(logging.Filter):
    """Drop uvicorn's traceback of a lifespan task cancelled by a forced exit.

    A second Ctrl-C makes uvicorn skip the lifespan shutdown and cancel the
    task, then log the cancellation as an error; the user asked for it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (
            isinstance(exc, asyncio.CancelledError)
            and str(record.msg).startswith("Exception in 'lifespan' protocol")
        )


def _log_config() -> dict[str, Any]:
    """Return uvicorn's logging set-up: no start-up chatter, one line per request."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
                "use_colors": None,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(client_addr)s - - [%(asctime)s] "%(request_line)s"'
                " %(status_code)s",
                "datefmt": "%d/%b/%Y %H:%M:%S",
            },
        },
        "filters": {"forced_exit": {"()": _DropForcedLifespanError}},
        "handlers": {
            "default": {
                "formatter": "default",
                "filters": ["forced_exit"],
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "formatter": "access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            # "Started server process", "Uvicorn running on ..." are INFO here;
            # the banner already said it. Reload notices are WARNING.
            "uvicorn.error": {"level": "WARNING"},
            "uvicorn.access": {
                "handlers": ["access"],
                "level": "INFO",
                "propagate": False,
            },
        },
    }


# -- loading the app ---------------------------------------------------------------------
def _load_app(target: str | Callable[[], Any] | None) -> Erlen:
    """Return the app ``target`` names; the one ``erlen run`` already loaded if so."""
    from .cli import ScriptInfo

    ctx = click.get_current_context(silent=True)
    info = ctx.find_object(ScriptInfo) if ctx is not None else None
    if info is not None and (
        info.create_app is target if callable(target) else info.import_path == target
    ):
        # The command loaded (and configured) it: do not import or build it twice.
        return info.load_app()
    if callable(target):
        app = target()
        if not _is_app(app):
            raise NoAppException(
                f"The factory {target!r} given to the development server returned"
                f" {type(app).__name__!r}, not an erlen app."
            )
        return app  # type: ignore[no-any-return]
    return ScriptInfo(target, set_debug_flag=False).load_app()


def _configure(app: Erlen, debug: bool, config: Mapping[str, Any]) -> None:
    if app.debug != debug:
        app.debug = debug
    if config:
        app.config.update(config)


def _reload_factory() -> Any:
    """Build the app in uvicorn's reload child (``factory=True``).

    The parent put what to load, the debug mode and config in ``ERLEN_DEV_SERVER``.
    """
    raw = os.environ.get(_ENV)
    if not raw:
        raise RuntimeError(
            f"{_FACTORY} builds the app for erlen's reloading development server"
            " and needs the ERLEN_DEV_SERVER variable it sets. Start the server"
            " with `erlen run` or app.run() instead."
        )
    spec = json.loads(raw)
    try:
        if "module" in spec:
            from .discovery import locate_app

            app = locate_app(spec["module"], spec["name"])
        else:
            app = _load_app(spec["path"])
    except click.ClickException as e:
        # The app's own error (its traceback) or "no app": say it once, without
        # uvicorn's frames, and answer 500 until a change restarts this process.
        e.show()
        click.secho(
            " * The app failed to load; fix it and save to reload.",
            fg="yellow",
            err=True,
        )
        return _failed_app  # type: ignore[return-value]
    if app.import_name == "__mp_main__":
        # multiprocessing ran the parent's main script under this name; name
        # the app as it was named there (app.name, the logger).
        app.import_name = "__main__"
    _configure(app, spec["debug"], spec["config"])
    return app


async def _failed_app(scope: Any, receive: Any, send: Any) -> None:
    """Stand in for an app that failed to load in the reload child (ASGI 3)."""
    kind = scope["type"]
    if kind == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    elif kind == "http":
        body = (
            b"The app failed to load: see the development server's console."
            b" Save a fix to reload.\n"
        )
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    else:  # websocket: refuse the handshake
        await send({"type": "websocket.close", "code": 1011})


def _main_is_importable() -> bool:
    """Tell whether a spawned child re-runs ``__main__`` (a file or ``-m``)."""
    main = sys.modules.get("__main__")
    return main is not None and (
        getattr(main, "__file__", None) is not None
        or getattr(main, "__spec__", None) is not None
    )


def _find_global(obj: Any, modules: Sequence[str]) -> dict[str, str] | None:
    """Return ``{"module": ..., "name": ...}`` for a module global that is ``obj``."""
    for module_name in modules:
        if module_name == "__main__" and not _main_is_importable():
            continue
        module = sys.modules.get(module_name)
        if module is None:
            continue
        names = [n for n, v in vars(module).items() if v is obj and n.isidentifier()]
        if names:
            best = next((n for n in ("app", "application") if n in names), names[0])
            return {"module": module_name, "name": best}
    return None


def _factory_global(factory: Callable[[], Any]) -> dict[str, str] | None:
    name = getattr(factory, "__name__", "")
    module = getattr(factory, "__module__", None)
    if not module or getattr(factory, "__qualname__", None) != name:
        return None  # a lambda, closure or method cannot be imported by name
    return _find_global(factory, [module])


def _within(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath((path, folder)) == folder
    except ValueError:  # different drives
        return False


def _watched_dirs(app: Erlen, extra_files: Sequence[str]) -> list[str]:
    """Return the folders to watch: the working directory and the app's own."""
    candidates = [os.getcwd(), app.root_path]
    for scaffold in (app, *app.iter_blueprints()):
        folder = getattr(scaffold, "template_folder", None)
        if folder is not None:
            candidates.append(os.path.join(scaffold.root_path, folder))
        candidates.append(scaffold.root_path)
    # Installed code (site-packages) is not the user's: watching it is costly.
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
    dirs = []
    for folder in candidates:
        folder = os.path.realpath(folder)
        if not os.path.isdir(folder) or any(_within(folder, p) for p in prefixes):
            continue
        dirs.append(folder)
    dirs.extend(os.path.dirname(os.path.realpath(f)) for f in extra_files)
    return list(dict.fromkeys(dirs))


def _file_pattern(path: str) -> str:
    """Return a relative glob naming ``path`` (uvicorn rejects absolute ones)."""
    path = os.path.realpath(path)
    cwd = os.path.realpath(os.getcwd())
    if _within(path, cwd):
        return os.path.relpath(path, cwd)
    parent, name = os.path.split(path)
    return os.path.join(os.path.basename(parent), name)


# -- serving -------------------------------------------------------------------------------
def serve(
    app_import_path_or_factory: str | Callable[[], Any] | None,
    host: str = "127.0.0.1",
    port: int = 5000,
    *,
    reload: bool = False,
    debug: bool = False,
    threaded: bool = True,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    extra_files: Sequence[str] = (),
    exclude_patterns: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
) -> None:
    """Serve an app with the development server (uvicorn) until interrupted.

    Returns when the server stops (Ctrl-C, SIGTERM). Example::

        serve("hello:create_app('dev')", port=8000, reload=True)

    :param app_import_path_or_factory: what ``--app`` accepts (``"module"``,
        ``"module:name"``, ``"module:factory('arg')"``, a file path), or a
        function returning the app. ``None`` means discovery in the working
        directory (``wsgi.py``, ``app.py``). The reloading server imports the
        app again in a new process from this, so a factory must be a module
        global (not a lambda) to reload; otherwise a warning says reloading
        is off.
    :param host: the interface to bind to.
    :param port: the port to bind to.
    :param reload: restart when a Python file, a template (see
        :data:`TEMPLATE_PATTERNS`) or one of ``extra_files`` changes under the
        working directory or the app's folders.
    :param debug: the app's debug mode (set on the app in every process).
    :param threaded: run sync views in erlen's pool of ``ASGI_THREADS`` threads
        (default); ``False`` sets ``ASGI_THREADS`` to 1, so they run one at a time.
    :param ssl_certfile: TLS certificate (PEM); serve HTTPS with ``ssl_keyfile``.
    :param ssl_keyfile: TLS private key (PEM).
    :param extra_files: more files whose change triggers a reload.
    :param exclude_patterns: globs of files (matched against the end of the
        path, like ``*.tmp`` or ``build/*``) or folders the reloader ignores.
    :param config: config keys to set on the app (in every reloaded process too);
        values must be JSON types.
    """
    target = app_import_path_or_factory
    overrides = dict(config or {})
    if not threaded:
        overrides["ASGI_THREADS"] = 1
    app = _load_app(target)
    child: dict[str, Any] | None = None
    if reload:
        child = {"path": target}
        if callable(target):
            child = _factory_global(target)
            if child is None:
                warnings.warn(
                    f"Reloading is off: the app factory {target!r} cannot be"
                    " imported by name in a new process. Pass a module-level"
                    " function, or an import path such as 'module:create_app'.",
                    RuntimeWarning,
                    stacklevel=2,
                )
    _serve(
        app,
        child,
        host,
        port,
        debug=debug,
        config=overrides,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        extra_files=extra_files,
        exclude_patterns=exclude_patterns,
    )


def _serve(
    app: Erlen,
    child: dict[str, Any] | None,
    host: str,
    port: int,
    *,
    debug: bool,
    config: dict[str, Any],
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    extra_files: Sequence[str],
    exclude_patterns: Sequence[str],
) -> None:
    """Run uvicorn on ``app``; with ``child`` (what to load), reload in a child."""
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - a dependency of erlen
        raise RuntimeError(
            "erlen's development server is uvicorn, which is not installed:"
            " pip install 'uvicorn[standard]'."
        ) from None
    _configure(app, debug, config)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "interface": "asgi3",  # uvicorn's guess from __call__ would say asgi2
        "lifespan": "on",
        "log_config": _log_config(),
        "proxy_headers": False,  # request.remote_addr is the peer, as with Flask
        "ssl_certfile": ssl_certfile,
        "ssl_keyfile": ssl_keyfile,
        "timeout_graceful_shutdown": _GRACEFUL_SHUTDOWN,
    }
    max_message = app.config.get("WEBSOCKET_MAX_MESSAGE_SIZE")
    if isinstance(max_message, int) and max_message > 0:
        # The server assembles a message before erlen sees it: same limit.
        options["ws_max_size"] = max_message
    try:
        if child is None:
            uvicorn.run(app, **options)
            return
        previous = os.environ.get(_ENV)
        os.environ[_ENV] = json.dumps({**child, "debug": debug, "config": config})
        try:
            uvicorn.run(
                _FACTORY,
                factory=True,
                reload=True,
                reload_dirs=_watched_dirs(app, extra_files),
                reload_includes=[
                    *TEMPLATE_PATTERNS,
                    *map(_file_pattern, extra_files),
                ],
                reload_excludes=list(exclude_patterns) or None,
                **options,
            )
        finally:
            if previous is None:
                os.environ.pop(_ENV, None)
            else:
                os.environ[_ENV] = previous
    except KeyboardInterrupt:
        # Ctrl-C before uvicorn took over the signal: stop quietly all the same.
        pass


# -- app.run() -----------------------------------------------------------------------------
def production_server() -> str | None:
    """Name what already serves this process, or return None for a plain script.

    The rule, in order: an asyncio event loop running in this thread (an ASGI
    server loading the app, or async code); a process embedded in uWSGI or
    mod_wsgi (their ``uwsgi`` / ``mod_wsgi`` modules exist only there); a main
    program (``sys.argv[0]``, the ``__main__`` file, or ``python -m``'s package)
    named gunicorn, uvicorn, hypercorn, granian, daphne, uwsgi, waitress-serve
    or mod_wsgi-express, which covers their worker processes too.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return "an asyncio event loop is running: an ASGI server, or async code"
    for name in _EMBEDDED_MODULES:
        if name in sys.modules:
            return name
    main = sys.modules.get("__main__")
    names = [sys.argv[0] if sys.argv else "", getattr(main, "__file__", None) or ""]
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        names.append(spec.name.partition(".")[0])
    for name in names:
        base = os.path.basename(name)
        if base == "__main__.py":  # python -m server: the package's folder
            base = os.path.basename(os.path.dirname(name))
        for suffix in (".exe", "-script.py", ".py"):
            base = base.removesuffix(suffix)
        if base in _SERVER_PROGRAMS:
            return base
    return None


def server_url(host: str, port: int, scheme: str = "http") -> str:
    """Return the URL a browser opens for a server bound to ``host:port``."""
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in url_host:
        url_host = f"[{url_host}]"
    return f"{scheme}://{url_host}:{port}"


def _ssl_files(ssl_context: Any) -> tuple[str | None, str | None]:
    if ssl_context is None:
        return None, None
    if isinstance(ssl_context, tuple | list) and len(ssl_context) == 2:
        return os.fspath(ssl_context[0]), os.fspath(ssl_context[1])
    raise TypeError(
        "app.run(ssl_context=...) takes a (certfile, keyfile) pair of PEM file"
        " paths. 'adhoc' certificates and ssl.SSLContext objects are not supported"
        " by erlen's development server (uvicorn); make a self-signed certificate"
        " with `openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj"
        " /CN=localhost -keyout key.pem -out cert.pem`."
    )


def run_app(
    app: Erlen,
    host: str | None = None,
    port: int | None = None,
    debug: bool | None = None,
    load_dotenv: bool = True,
    **options: Any,
) -> None:
    """Serve ``app`` with the development server; :meth:`erlen.Erlen.run` is this."""
    if os.environ.get(_ENV):
        # A reloading dev server imports the app's module again in its child
        # process; an app.run() there must not start a second server.
        return
    if os.environ.get("ERLEN_RUN_FROM_CLI") == "true":
        warnings.warn(
            "Ignoring a call to app.run(): the 'erlen' command is serving the app."
            ' Call app.run() only under `if __name__ == "__main__":`.',
            RuntimeWarning,
            stacklevel=3,
        )
        return
    server = production_server()
    if server is not None:
        warnings.warn(
            f"Ignoring a call to app.run(): this process is already serving ({server})."
            " app.run() starts the development server only when the script runs on"
            ' its own; call it under `if __name__ == "__main__":`.',
            RuntimeWarning,
            stacklevel=3,
        )
        return
    unknown = set(options) - _RUN_OPTIONS
    if unknown:
        raise TypeError(
            f"app.run() got unsupported option(s) {', '.join(sorted(unknown))}."
            f" erlen's development server (uvicorn) takes:"
            f" {', '.join(sorted(_RUN_OPTIONS))}."
        )
    from .discovery import get_debug_flag, get_load_dotenv
    from .discovery import load_dotenv as load_env_files

    if get_load_dotenv(load_dotenv):
        load_env_files()
        if "ERLEN_DEBUG" in os.environ or "FLASK_DEBUG" in os.environ:
            app.debug = get_debug_flag()
    if debug is not None:
        app.debug = bool(debug)
    server_name = app.config.get("SERVER_NAME")
    sn_host = sn_port = None
    if server_name:
        sn_host, _, sn_port = server_name.partition(":")
    host = host or sn_host or "127.0.0.1"
    if port is None:
        port = int(sn_port) if sn_port else 5000
    port = int(port)
    certfile, keyfile = _ssl_files(options.get("ssl_context"))
    config: dict[str, Any] = {}
    if not options.get("threaded", True):
        config["ASGI_THREADS"] = 1
    if options.get("use_debugger") is False:
        config["DEBUG_PAGE"] = False  # Flask's switch for the in-browser debugger
    child = None
    if options.get("use_reloader", app.debug):
        # Reloading imports the app again in a new process: find it by name.
        caller = sys._getframe(2).f_globals.get("__name__", "")
        child = _find_global(app, [app.import_name, caller, "__main__"])
        if child is None:
            warnings.warn(
                "Reloading is off: the app is not a global of an importable module"
                " (app.run() reloads by importing the module that defines it)."
                " Use `erlen --app module:create_app run --reload` for factories.",
                RuntimeWarning,
                stacklevel=3,
            )
    from .cli import show_server_banner

    url = server_url(host, port, "https" if certfile else "http")
    show_server_banner(app.name, app.debug, url, host)
    _serve(
        app,
        child,
        host,
        port,
        debug=app.debug,
        config=config,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        extra_files=list(options.get("extra_files") or ()),
        exclude_patterns=list(options.get("exclude_patterns") or ()),
    )
