"""The ``erlen`` command line: ``run``, ``routes``, ``shell`` and the app's commands.

Flask's CLI, for erlen apps. :class:`ScriptInfo` finds and loads the app (``--app``
/ ``ERLEN_APP``, else ``wsgi.py`` or ``app.py`` in the working directory; a
factory ``create_app`` / ``make_app`` is called for you). :class:`AppGroup` is
the click group whose commands run inside an app context — ``app.cli`` and
``blueprint.cli`` are ones. :class:`ErlenGroup` is the ``erlen`` command itself:
it loads ``.env`` files, takes ``--app``, ``--debug``, ``--env-file`` and
``--version``, and adds the app's own commands to the built-in ones.

Finding the app is :mod:`erlen.discovery` (its names are re-exported here, where
Flask has them). Serving is :func:`erlen.serving.serve`; ``run`` only parses
options and prints the banner.

May import: erlen.globals, erlen.discovery; erlen.serving lazily. Never erlen.app
at import time: the app module imports this one.
"""

from __future__ import annotations

import code
import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable
from functools import update_wrapper
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .discovery import (
    DEFAULT_APP_FILES,
    AppImportError,
    NoAppException,
    find_app_by_string,
    find_best_app,
    get_debug_flag,
    get_load_dotenv,
    load_dotenv,
    locate_app,
    prepare_import,
    split_import_path,
)
from .globals import _cv_ctx

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "AppGroup",
    "AppImportError",
    "ErlenGroup",
    "FlaskGroup",
    "NoAppException",
    "ScriptInfo",
    "cli",
    "find_app_by_string",
    "find_best_app",
    "load_dotenv",
    "locate_app",
    "main",
    "pass_script_info",
    "prepare_import",
    "routes_command",
    "run_command",
    "shell_command",
    "show_server_banner",
    "version_text",
    "with_appcontext",
]


# -- the script info and app groups --------------------------------------------------
class ScriptInfo:
    """Find and load the app a command works on; click passes it as ``ctx.obj``.

    :param app_import_path: ``"module"``, ``"module:name"``,
        ``"module:factory(args)"`` or a file path; ``None`` tries ``wsgi.py``
        then ``app.py`` in the working directory.
    :param create_app: a function returning the app; wins over the import path.
    :param set_debug_flag: set ``app.debug`` from ``ERLEN_DEBUG`` on load.
    :param load_dotenv_defaults: load ``.erlenenv`` and ``.env``.
    """

    def __init__(
        self,
        app_import_path: str | None = None,
        create_app: Callable[..., Erlen] | None = None,
        set_debug_flag: bool = True,
        load_dotenv_defaults: bool = True,
    ) -> None:
        self.app_import_path = app_import_path
        self.create_app = create_app
        #: Free storage for commands and extensions.
        self.data: dict[Any, Any] = {}
        self.set_debug_flag = set_debug_flag
        self.load_dotenv_defaults = get_load_dotenv(load_dotenv_defaults)
        #: The file the app was found in when no import path was given.
        self.discovered_file: str | None = None
        self._loaded_app: Erlen | None = None

    def load_app(self) -> Erlen:
        """Load the app once and return it; later calls return the same app."""
        if self._loaded_app is not None:
            return self._loaded_app
        app: Erlen | None = None
        if self.create_app is not None:
            app = self.create_app()
        elif self.app_import_path:
            path, name = split_import_path(self.app_import_path)
            app = locate_app(prepare_import(path), name)
        else:
            for filename in DEFAULT_APP_FILES:
                if not os.path.isfile(filename):
                    continue
                app = locate_app(prepare_import(filename), None, False)
                if app is not None:
                    self.discovered_file = filename
                    break
            if app is None:
                raise NoAppException(
                    "Could not locate an erlen application. Tried: the '--app'"
                    " option (not given), the ERLEN_APP environment variable (not"
                    f" set), and {' and '.join(map(repr, DEFAULT_APP_FILES))} in the"
                    f" working directory {os.getcwd()!r} (not found). Use 'erlen"
                    " --app module:name', set ERLEN_APP, or add a wsgi.py or app.py."
                )
        if app is None:  # pragma: no cover - locate_app raises instead
            raise NoAppException("The app could not be loaded.")
        if self.set_debug_flag:
            # Through the property, so that template reloading follows too.
            app.debug = get_debug_flag()
        self._loaded_app = app
        return app

    @property
    def import_path(self) -> str | None:
        """The import path the app was (or will be) loaded from, for display."""
        return self.app_import_path or self.discovered_file


pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


def with_appcontext(f: F) -> F:
    """Run the command ``f`` inside the app's context, loading the app if needed.

    Commands of :class:`AppGroup` (``app.cli``) get this automatically.
    """

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        if _cv_ctx.get(None) is None:
            app = ctx.ensure_object(ScriptInfo).load_app()
            ctx.with_resource(app.app_context())
        return ctx.invoke(f, *args, **kwargs)

    return update_wrapper(decorator, f)  # type: ignore[return-value]


class AppGroup(click.Group):
    """A click group whose commands run in the app context by default.

    Pass ``with_appcontext=False`` to :meth:`command` to opt out.
    """

    def command(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Register a command, wrapped in :func:`with_appcontext` unless told not."""
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return self.command()(args[0])
        wrap = kwargs.pop("with_appcontext", True)

        def decorator(f: Callable[..., Any]) -> click.Command:
            if wrap:
                f = with_appcontext(f)
            return click.Group.command(self, *args, **kwargs)(f)  # type: ignore[no-any-return]

        return decorator

    def group(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Register a subgroup; an :class:`AppGroup` unless ``cls`` is given."""
        kwargs.setdefault("cls", AppGroup)
        return super().group(*args, **kwargs)


# -- the erlen command -------------------------------------------------------------------
def _version(dist: str, missing: str | None = "not installed") -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return missing


def version_text() -> str:
    """Return the versions ``erlen --version`` prints: Python, erlen, dependencies."""
    lines = [
        f"Python {platform.python_version()}",
        f"erlen {_version('erlen', 'unknown (not installed)')}",
    ]
    for dist in (
        "Werkzeug",
        "Jinja2",
        "MarkupSafe",
        "itsdangerous",
        "click",
        "blinker",
    ):
        lines.append(f"{dist} {_version(dist)}")
    for dist in ("uvicorn", "orjson", "python-dotenv"):
        version = _version(dist, None)
        if version is not None:
            lines.append(f"{dist} {version}")
    return "\n".join(lines)


def _show_version(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(version_text(), color=ctx.color)
    ctx.exit()


version_option = click.Option(
    ["--version"],
    help="Show the versions of erlen, Python and key dependencies.",
    expose_value=False,
    callback=_show_version,
    is_flag=True,
    is_eager=True,
)


def _set_app(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    ctx.ensure_object(ScriptInfo).app_import_path = value
    return value


# A callback rather than an attribute of the app: it runs before the app is
# loaded, so that the app and its config see the value.
_app_option = click.Option(
    ["-A", "--app"],
    metavar="IMPORT",
    help=(
        "The erlen app or factory to load: 'module', 'module:name' or"
        " 'module:create_app(args)'; a file path works for the module. Default:"
        " ERLEN_APP, else wsgi.py or app.py in the working directory."
    ),
    is_eager=True,
    expose_value=False,
    callback=_set_app,
)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool | None) -> Any:
    # The app reads ERLEN_DEBUG when it is created, and ScriptInfo on load.
    if value is None:
        return None
    os.environ["ERLEN_DEBUG"] = "1" if value else "0"
    return value


_debug_option = click.Option(
    ["--debug/--no-debug"],
    default=None,
    help="Turn debug mode on or off (ERLEN_DEBUG). Never on in production.",
    expose_value=False,
    callback=_set_debug,
)


def _env_file_callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    try:
        import dotenv  # noqa: F401
    except ImportError:
        if value is not None:
            raise click.BadParameter(
                "python-dotenv must be installed to load an env file"
                " (pip install python-dotenv).",
                ctx=ctx,
                param=param,
            ) from None
    info = ctx.ensure_object(ScriptInfo)
    if value is not None or info.load_dotenv_defaults:
        load_dotenv(value, load_defaults=info.load_dotenv_defaults)
    return value


# Declared before --app so that it is processed first: .env may set ERLEN_APP.
_env_file_option = click.Option(
    ["-e", "--env-file"],
    type=click.Path(exists=True, dir_okay=False),
    help=(
        "Load environment variables from this file (python-dotenv); it wins over"
        " .env and .erlenenv, variables already set win over all."
    ),
    is_eager=True,
    expose_value=False,
    callback=_env_file_callback,
)


class ErlenGroup(AppGroup):
    """The ``erlen`` command: built-in commands plus the app's (``app.cli``).

    Build your own script with it to fix the app::

        cli = ErlenGroup(create_app=lambda: create_app("prod"))

    :param add_default_commands: add ``run``, ``shell`` and ``routes``.
    :param create_app: a function returning the app, instead of discovery.
    :param add_version_option: add ``--version``.
    :param load_dotenv: load ``.erlenenv`` and ``.env``.
    :param set_debug_flag: set ``app.debug`` from ``--debug``/``ERLEN_DEBUG``.

    Commands from installed packages are added from the ``erlen.commands``
    entry point group.
    """

    def __init__(
        self,
        add_default_commands: bool = True,
        create_app: Callable[..., Erlen] | None = None,
        add_version_option: bool = True,
        load_dotenv: bool = True,
        set_debug_flag: bool = True,
        **extra: Any,
    ) -> None:
        params: list[click.Parameter] = list(extra.pop("params", None) or ())
        params.extend((_env_file_option, _app_option, _debug_option))
        if add_version_option:
            params.append(version_option)
        extra.setdefault("context_settings", {})
        # ERLEN_APP, ERLEN_DEBUG, ERLEN_RUN_PORT ... fill the options.
        extra["context_settings"].setdefault("auto_envvar_prefix", "ERLEN")
        super().__init__(params=params, **extra)
        self.create_app = create_app
        self.load_dotenv = load_dotenv
        self.set_debug_flag = set_debug_flag
        if add_default_commands:
            self.add_command(run_command)
            self.add_command(shell_command)
            self.add_command(routes_command)
        self._loaded_plugin_commands = False

    def _load_plugin_commands(self) -> None:
        if self._loaded_plugin_commands:
            return
        for ep in importlib.metadata.entry_points(group="erlen.commands"):
            self.add_command(ep.load(), ep.name)
        self._loaded_plugin_commands = True

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Return a built-in or plugin command, else one of the app's."""
        self._load_plugin_commands()
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        info = ctx.ensure_object(ScriptInfo)
        try:
            app = info.load_app()
        except NoAppException as e:
            click.secho(f"Error: {e.format_message()}\n", err=True, fg="red")
            return None
        current = _cv_ctx.get(None)
        if current is None or current.app is not app:
            ctx.with_resource(app.app_context())
        return app.cli.get_command(ctx, name)  # type: ignore[no-any-return]

    def list_commands(self, ctx: click.Context) -> list[str]:
        """List built-in, plugin and app commands; report an app that fails to load."""
        self._load_plugin_commands()
        names = set(super().list_commands(ctx))
        info = ctx.ensure_object(ScriptInfo)
        try:
            names.update(info.load_app().cli.list_commands(ctx))
        except NoAppException as e:
            # Help must still show the built-in commands.
            click.secho(f"Error: {e.format_message()}\n", err=True, fg="red")
        return sorted(names)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Create the context, with a :class:`ScriptInfo` as its object."""
        # Tells app.run() in the loaded module that the CLI serves the app.
        os.environ["ERLEN_RUN_FROM_CLI"] = "true"
        if "obj" not in extra and "obj" not in self.context_settings:
            extra["obj"] = ScriptInfo(
                create_app=self.create_app,
                set_debug_flag=self.set_debug_flag,
                load_dotenv_defaults=self.load_dotenv,
            )
        return super().make_context(info_name, args, parent=parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse arguments; for bare ``erlen`` or ``--help``, load the app first."""
        if (not args and self.no_args_is_help) or (
            len(args) == 1 and args[0] in self.get_help_option_names(ctx)
        ):
            # Options given only through the environment (.env, ERLEN_APP) are
            # processed now, so the help lists the app's commands too.
            _env_file_option.handle_parse_result(ctx, {}, [])
            _app_option.handle_parse_result(ctx, {}, [])
        try:
            return super().parse_args(ctx, args)
        except BaseException:
            # Help and usage errors end the command here, before click would
            # close the context: pop the app context get_command pushed.
            ctx.close()
            raise


#: Flask's name for :class:`ErlenGroup`.
FlaskGroup = ErlenGroup


# -- run -----------------------------------------------------------------------------------
class _PathList(click.ParamType):
    """A list of paths or patterns separated by ``os.pathsep``."""

    name = "paths"

    def __init__(self, absolute: bool) -> None:
        self.absolute = absolute

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> list[str]:
        if isinstance(value, list):
            return value
        items = [item for item in str(value).split(os.pathsep) if item]
        return [os.path.abspath(i) for i in items] if self.absolute else items


class _CertFile(click.Path):
    """A certificate file; explains that ``adhoc`` is not available."""

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False, resolve_path=True)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value == "adhoc":
            self.fail(
                "'adhoc' certificates are not supported. Create a self-signed one,"
                " e.g. `openssl req -x509 -newkey rsa:2048 -nodes -days 30"
                " -subj /CN=localhost -keyout key.pem -out cert.pem`, then pass"
                " --cert cert.pem --key key.pem.",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


def show_server_banner(name: str, debug: bool, url: str, host: str) -> None:
    """Print what is served, where, in which mode, and that it is for development."""
    click.echo(f" * Serving erlen app {name!r}")
    click.echo(f" * Debug mode: {'on' if debug else 'off'}")
    if host in ("0.0.0.0", "::"):
        click.echo(f" * Running on all addresses ({host}), e.g. {url}")
    else:
        click.echo(f" * Running on {url} (Press CTRL+C to quit)")
    click.secho(
        "WARNING: This is a development server. Do not use it in production;"
        " deploy with a production server (see docs/deployment.md).",
        fg="red",
        bold=True,
        err=True,
    )


@click.command("run", short_help="Run a development server.")
@click.option("--host", "-h", default="127.0.0.1", show_default=True,
              help="The interface to bind to.")  # fmt: skip
@click.option("--port", "-p", default=5000, show_default=True,
              type=click.IntRange(0, 65535), help="The port to bind to.")  # fmt: skip
@click.option("--cert", type=_CertFile(), help="TLS certificate file (PEM).")
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, resolve_path=True),
    help="TLS private key file (PEM); required with --cert.",
)
@click.option("--debug/--no-debug", default=None,
              help="Turn debug mode on or off. Default: ERLEN_DEBUG, else off.")  # fmt: skip
@click.option("--reload/--no-reload", default=None,
              help="Restart when code changes. Default: on in debug mode.")  # fmt: skip
@click.option(
    "--with-threads/--without-threads",
    default=True,
    help="Run sync views in a thread pool (default), or one at a time.",
)
@click.option(
    "--extra-files",
    type=_PathList(absolute=True),
    default=None,
    help=f"More files whose change triggers a reload, separated by {os.pathsep!r}.",
)
@click.option(
    "--exclude-patterns",
    type=_PathList(absolute=False),
    default=None,
    help=f"fnmatch patterns of files the reloader ignores, separated by {os.pathsep!r}.",
)
@pass_script_info
def run_command(
    info: ScriptInfo,
    host: str,
    port: int,
    cert: str | None,
    key: str | None,
    debug: bool | None,
    reload: bool | None,
    with_threads: bool,
    extra_files: list[str] | None,
    exclude_patterns: list[str] | None,
) -> None:
    """Serve the app with the development server (HTTP and WebSockets).

    Reloads on code changes in debug mode. Not for production: deploy with
    gunicorn, uvicorn, granian or hypercorn.
    """
    if key is not None and cert is None:
        raise click.BadParameter('"--cert" must also be given.', param_hint="'--key'")
    if cert is not None and key is None:
        raise click.BadParameter('"--key" is required.', param_hint="'--cert'")
    if debug is not None:
        os.environ["ERLEN_DEBUG"] = "1" if debug else "0"
    app = info.load_app()
    if debug is not None:
        app.debug = debug
    debug = app.debug
    if reload is None:
        reload = debug
    from . import serving

    url = serving.server_url(host, port, "https" if cert else "http")
    show_server_banner(info.app_import_path or app.name, debug, url, host)

    # Reloading re-imports the app in a new process, so pass how to find it.
    target: Any = info.create_app if info.create_app is not None else info.import_path
    serving.serve(
        target,
        host,
        port,
        reload=reload,
        debug=debug,
        threaded=with_threads,
        ssl_certfile=cert,
        ssl_keyfile=key,
        extra_files=extra_files or [],
        exclude_patterns=exclude_patterns or [],
    )


# -- routes ----------------------------------------------------------------------------
def _match_order(app: Erlen) -> list[Any]:
    """Return the app's rules in the order the router tries them."""
    url_map = app.url_map
    rules = list(url_map.iter_rules())
    url_map.refresh()
    order: dict[int, int] = {}
    # The router's compiled alternatives are sorted in match order; each rule's
    # first alternative gives its rank. Build-only rules never match: last.
    for alternative in url_map._snapshot[0]:
        order.setdefault(id(alternative.rule), len(order))
    return sorted(rules, key=lambda rule: order.get(id(rule), len(order)))


@click.command("routes", short_help="Show the routes of the app.")
@click.option(
    "--sort",
    "-s",
    type=click.Choice(("endpoint", "methods", "domain", "rule", "match")),
    default="endpoint",
    help="Sort by this column; 'match' is the order the router tries the rules.",
)
@click.option("--all-methods", is_flag=True, help="Show HEAD and OPTIONS too.")
@with_appcontext
def routes_command(sort: str, all_methods: bool) -> None:
    """Show the URL rules of the app: endpoint, methods and rule."""
    app = _cv_ctx.get().app
    rules = _match_order(app) if sort == "match" else list(app.url_map.iter_rules())
    if not rules:
        click.echo("No routes were registered.")
        return
    ignored = frozenset() if all_methods else frozenset({"HEAD", "OPTIONS"})
    host_matching = app.url_map.host_matching
    has_domain = any(rule.host if host_matching else rule.subdomain for rule in rules)
    rows = []
    for rule in rules:
        if rule.websocket:
            methods = "WEBSOCKET"
        elif rule.methods is None:
            methods = "*"
        else:
            methods = ", ".join(sorted(rule.methods - ignored))
        row = [str(rule.endpoint), methods]
        if has_domain:
            row.append((rule.host if host_matching else rule.subdomain) or "")
        row.append(rule.rule)
        rows.append(row)
    headers = ["Endpoint", "Methods"]
    columns = ["endpoint", "methods"]
    if has_domain:
        headers.append("Host" if host_matching else "Subdomain")
        columns.append("domain")
    headers.append("Rule")
    columns.append("rule")
    if sort in columns:
        rows.sort(key=itemgetter(columns.index(sort)))
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    for row in (headers, ["-" * w for w in widths], *rows):
        click.echo(
            "  ".join(
                cell.ljust(w) for cell, w in zip(row, widths, strict=True)
            ).rstrip()
        )


# -- shell -----------------------------------------------------------------------------
def make_shell_context(app: Erlen) -> dict[str, Any]:
    """Return the shell's names: ``app``, ``g``, then the shell context processors'."""
    own = getattr(app, "make_shell_context", None)
    if own is not None:
        return own()  # type: ignore[no-any-return]
    from .globals import g

    namespace: dict[str, Any] = {"app": app, "g": g}
    for processor in app.shell_context_processors:
        namespace.update(processor())
    return namespace


def _python_shell(banner: str, namespace: dict[str, Any]) -> None:
    # The interactive hook (readline with completion and history) is what a
    # plain `python` would run; give it the shell's names to complete.
    hook = getattr(sys, "__interactivehook__", None)
    if hook is not None:
        try:
            import readline
            from rlcompleter import Completer
        except ImportError:
            pass
        else:
            readline.set_completer(Completer(namespace).complete)
        hook()
    code.interact(banner=banner, local=namespace)


def _ipython_shell(banner: str, namespace: dict[str, Any]) -> None:
    import IPython

    click.echo(f"{banner}\nIPython {getattr(IPython, '__version__', '')}".rstrip())
    IPython.start_ipython(argv=["--no-banner"], user_ns=namespace)


@click.command("shell", short_help="Run a Python shell in the app context.")
@click.option(
    "--ipython/--no-ipython",
    default=None,
    help="Use IPython. Default: when it is installed.",
)
@with_appcontext
@pass_script_info
def shell_command(info: ScriptInfo, ipython: bool | None) -> None:
    """Run an interactive Python shell in the app's context.

    ``app``, ``g`` and the names of the app's shell context processors are
    defined; PYTHONSTARTUP runs first.
    """
    app = _cv_ctx.get().app
    where = info.import_path
    banner = (
        f"Python {sys.version} on {sys.platform}\n"
        f"App: {app.import_name}"
        + (f" (import path: {where})" if where else "")
        + f"\nInstance: {app.instance_path}"
    )
    namespace: dict[str, Any] = {}
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        with open(startup, encoding="utf-8") as f:
            exec(compile(f.read(), startup, "exec"), namespace)
    namespace.update(make_shell_context(app))
    if ipython is None:
        try:
            import IPython  # noqa: F401
        except ImportError:
            ipython = False
        else:
            ipython = True
    if ipython:
        try:
            _ipython_shell(banner, namespace)
        except ImportError:
            raise click.UsageError(
                "IPython is not installed (pip install ipython); use --no-ipython."
            ) from None
    else:
        _python_shell(banner, namespace)


cli = ErlenGroup(
    name="erlen",
    help="""\
A general utility script for erlen applications.

The app is found through the '--app' option or the ERLEN_APP environment
variable, else in a wsgi.py or app.py file in the working directory.
""",
)


def main() -> None:
    """Run the ``erlen`` command (the console script)."""
    cli.main()


if __name__ == "__main__":  # pragma: no cover
    main()
