"""Find the app the ``erlen`` command works on, and load ``.env`` files.

Flask's discovery rules: ``--app`` / ``ERLEN_APP`` names a module or file, and
optionally an attribute or a factory call with literal arguments
(``module:create_app('dev')``); a module alone is searched for ``app`` /
``application``, a single app instance, then a ``create_app`` / ``make_app``
factory. When the app's own code raises while it is imported or built, the
error is an :class:`AppImportError` carrying that code's traceback.

The public names are re-exported by :mod:`erlen.cli`, where Flask has them.

May import: erlen.helpers (the debug switch); erlen.app lazily, for the ``Erlen`` class.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

import click

from .helpers import get_debug_flag as get_debug_flag

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen

__all__ = [
    "DEFAULT_APP_FILES",
    "DOTENV_FILES",
    "FACTORY_NAMES",
    "AppImportError",
    "NoAppException",
    "find_app_by_string",
    "find_best_app",
    "get_debug_flag",
    "get_load_dotenv",
    "load_dotenv",
    "locate_app",
    "prepare_import",
    "split_import_path",
]

#: Default env files, lowest precedence first; ``--env-file`` wins over both.
DOTENV_FILES = (".erlenenv", ".env")
#: Files tried, in order, when neither ``--app`` nor ``ERLEN_APP`` names the app.
DEFAULT_APP_FILES = ("wsgi.py", "app.py")
#: Factory names :func:`find_best_app` calls without arguments.
FACTORY_NAMES = ("create_app", "make_app")

# "module:name" splits at the first colon that does not start a Windows path
# ("C:\\app.py", "C:/app.py").
_APP_SPLIT = re.compile(r":(?![\\/])")


def split_import_path(import_path: str) -> tuple[str, str | None]:
    """Split ``"module:name"`` into ``("module", "name")``; no name gives None."""
    parts = _APP_SPLIT.split(import_path, maxsplit=1)
    return parts[0], (parts[1] if len(parts) == 2 else None)


# -- errors ----------------------------------------------------------------------------
class NoAppException(click.UsageError):
    """No erlen app could be found or loaded; the message says what was tried."""


class AppImportError(NoAppException):
    """The app's own code raised while it was imported or its factory called.

    Shown as a labelled traceback of the app's frames (the loader's are cut),
    without the usage text: the command line was fine.
    """

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.ClickException.show(self, file)


def _app_traceback(error: BaseException) -> str:
    """Format ``error`` without this module's and importlib's frames."""
    te = traceback.TracebackException.from_exception(error)
    te.stack = traceback.StackSummary.from_list(
        [
            frame
            for frame in te.stack
            if frame.filename != __file__
            and not frame.filename.startswith("<frozen importlib")
        ]
    )
    return "".join(te.format()).rstrip()


def _labelled(what: str, error: BaseException) -> AppImportError:
    return AppImportError(
        f"{what}, an exception was raised by the app's own code"
        f" (its traceback follows).\n\n{_app_traceback(error)}"
    )


# -- discovery -------------------------------------------------------------------------
def _is_app(value: Any) -> bool:
    from .app import Erlen

    return isinstance(value, Erlen)


def _is_flask_app(value: Any) -> bool:
    return type(value).__module__.partition(".")[0] == "flask"


def _not_an_erlen_app(value: Any, where: str) -> NoAppException:
    message = f"A valid erlen application was not obtained from {where!r}."
    if _is_flask_app(value):
        message += (
            " It is a Flask app: create it with erlen.Erlen (or `from erlen"
            " import Flask`) to run it with erlen."
        )
    return NoAppException(message)


def _called_with_wrong_args(func: Callable[..., Any], tb: TracebackType | None) -> bool:
    """Tell whether a TypeError arose from calling ``func``, not from inside it."""
    while tb is not None:
        if tb.tb_frame.f_code is getattr(func, "__code__", None):
            return False  # func ran: the TypeError is its own
        tb = tb.tb_next
    return True


def _call_factory(
    factory: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], label: str
) -> Any:
    try:
        return factory(*args, **kwargs)
    except TypeError as e:
        if _called_with_wrong_args(factory, e.__traceback__):
            raise NoAppException(
                f"The factory {label} could not be called with"
                f" {'the given arguments' if args or kwargs else 'no arguments'}"
                f" ({e})."
            ) from None
        raise _labelled(f"While calling the factory {label}", e) from None
    except Exception as e:
        raise _labelled(f"While calling the factory {label}", e) from None


def find_best_app(module: ModuleType) -> Erlen:
    """Return the app a module holds, calling a factory if that is all it has.

    Tried in order: an attribute ``app`` or ``application``; the single app
    among the module's attributes; ``create_app()`` or ``make_app()``.
    """
    for name in ("app", "application"):
        value = getattr(module, name, None)
        if _is_app(value):
            return value  # type: ignore[no-any-return]
    found = [value for value in vars(module).values() if _is_app(value)]
    if len(found) == 1:
        return found[0]  # type: ignore[no-any-return]
    if len(found) > 1:
        raise NoAppException(
            f"Detected several erlen applications in module {module.__name__!r}."
            f" Use '{module.__name__}:name' to choose one."
        )
    for name in FACTORY_NAMES:
        factory = getattr(module, name, None)
        if inspect.isfunction(factory):
            label = f"{name!r} in module {module.__name__!r}"
            try:
                app = factory()
            except TypeError as e:
                if not _called_with_wrong_args(factory, e.__traceback__):
                    raise _labelled(f"While calling the factory {label}", e) from None
                raise NoAppException(
                    f"Detected factory {label}, but it could not be called without"
                    f" arguments. Use '{module.__name__}:{name}(args)' to pass"
                    " arguments."
                ) from None
            except Exception as e:
                raise _labelled(f"While calling the factory {label}", e) from None
            if _is_app(app):
                return app  # type: ignore[no-any-return]
            raise _not_an_erlen_app(app, f"{module.__name__}:{name}()")
    for name, value in vars(module).items():
        if _is_flask_app(value):
            raise _not_an_erlen_app(value, f"{module.__name__}:{name}")
    raise NoAppException(
        f"Failed to find an erlen application or factory in module"
        f" {module.__name__!r}: no 'app' or 'application' attribute, no Erlen"
        f" instance, no {' or '.join(FACTORY_NAMES)} function. Use"
        f" '{module.__name__}:name' to name it."
    )


def find_app_by_string(module: ModuleType, app_name: str) -> Erlen:
    """Return the app ``app_name`` names in ``module``.

    ``app_name`` is an attribute (``"app"``) or a factory call with literal
    arguments (``"create_app('dev', debug=True)"``).
    """
    try:
        expr = ast.parse(app_name.strip(), mode="eval").body
    except SyntaxError:
        raise NoAppException(
            f"Failed to parse {app_name!r} as an attribute name or function call."
        ) from None
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    call = isinstance(expr, ast.Call)
    if isinstance(expr, ast.Name):
        name = expr.id
    elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        name = expr.func.id
        try:
            args = [ast.literal_eval(arg) for arg in expr.args]
            for keyword in expr.keywords:
                if keyword.arg is None:
                    raise ValueError("**kwargs")
                kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            raise NoAppException(
                f"Failed to parse the arguments of {app_name!r}: only literal"
                " values (strings, numbers, lists, ...) may be passed."
            ) from None
    else:
        raise NoAppException(
            f"Failed to parse {app_name!r} as an attribute name or function call."
        )
    try:
        attr = getattr(module, name)
    except AttributeError:
        raise NoAppException(
            f"Failed to find attribute {name!r} in {module.__name__!r}."
        ) from None
    if inspect.isfunction(attr):
        label = f"{app_name!r} in module {module.__name__!r}"
        app = _call_factory(attr, args, kwargs, label)
    elif call:
        raise NoAppException(
            f"{name!r} in {module.__name__!r} is not a function, so"
            f" {app_name!r} cannot be called."
        )
    else:
        app = attr
    if _is_app(app):
        return app  # type: ignore[no-any-return]
    raise _not_an_erlen_app(app, f"{module.__name__}:{app_name}")


def prepare_import(path: str) -> str:
    """Turn a file path or module name into an importable module name.

    The folder above the top-level package is put first on ``sys.path``, so
    ``src/hello/app.py`` (``src/hello`` being a package) gives ``"hello.app"``.
    """
    path = os.path.realpath(path)
    stem, ext = os.path.splitext(path)
    if ext == ".py":
        path = stem
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)
    names = []
    while True:
        path, name = os.path.split(path)
        names.append(name)
        if not os.path.isfile(os.path.join(path, "__init__.py")):
            break
    if sys.path[0] != path:
        sys.path.insert(0, path)
    return ".".join(reversed(names))


def locate_app(
    module_name: str, app_name: str | None, raise_if_not_found: bool = True
) -> Erlen | None:
    """Import ``module_name`` and return its app (see :func:`find_best_app`).

    :raises NoAppException: the module does not exist (unless
        ``raise_if_not_found`` is false: then ``None``), or holds no app.
    :raises AppImportError: the module's own code raised while importing.
    """
    try:
        __import__(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or ""
        if missing and (
            module_name == missing or module_name.startswith(missing + ".")
        ):
            if not raise_if_not_found:
                return None
            raise NoAppException(
                f"Could not import {module_name!r}: no such module (searched"
                f" {sys.path[0]!r} and sys.path)."
            ) from None
        raise _labelled(f"While importing {module_name!r}", e) from None
    except Exception as e:
        raise _labelled(f"While importing {module_name!r}", e) from None
    module = sys.modules[module_name]
    if app_name is None:
        return find_best_app(module)
    return find_app_by_string(module, app_name)


def get_load_dotenv(default: bool = True) -> bool:
    """Return whether to load the default env files (``ERLEN_SKIP_DOTENV`` unset)."""
    value = os.environ.get("ERLEN_SKIP_DOTENV")
    if not value:
        return default
    return value.lower() in ("0", "false", "no")


def load_dotenv(
    path: str | os.PathLike[str] | None = None, load_defaults: bool = True
) -> bool:
    """Load env files into ``os.environ`` with python-dotenv; True if any value.

    Precedence: variables already set > ``path`` > ``.env`` > ``.erlenenv``
    (the default files are searched from the working directory upward).
    Without python-dotenv nothing is loaded and a tip is printed if such
    files exist.
    """
    try:
        import dotenv
    except ImportError:
        if path or any(os.path.isfile(name) for name in DOTENV_FILES):
            click.secho(
                " * Tip: there are .env or .erlenenv files present. Install"
                " python-dotenv to use them.",
                fg="yellow",
                err=True,
            )
        return False
    data: dict[str, str | None] = {}
    if load_defaults:
        for name in DOTENV_FILES:
            found = dotenv.find_dotenv(name, usecwd=True)
            if found:
                data |= dotenv.dotenv_values(found, encoding="utf-8")
    if path is not None and os.path.isfile(path):
        data |= dotenv.dotenv_values(path, encoding="utf-8")
    for key, value in data.items():
        if key not in os.environ and value is not None:
            os.environ[key] = value
    return bool(data)
