"""The registration API shared by the app and blueprints.

:class:`Scaffold` holds what both can register — routes, hooks, error handlers,
URL value processors — and the decorators over them. Every decorator is two lines
over an imperative method. Registration is closed once the app has handled its
first request (or a blueprint has been registered), because erlen precomputes
hook chains then.

May import: erlen.typing, erlen.sending (for static files, lazily). Knows nothing
about requests in flight.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from werkzeug.exceptions import HTTPException, default_exceptions

from . import typing as ft

F = TypeVar("F", bound=Callable[..., Any])

#: The placeholder Flask uses for "the scaffold's own name" in hook dicts.
_APP_KEY = None


def setupmethod(f: F) -> F:
    """Mark a registration method: it refuses to run once setup is finished."""
    f_name = f.__name__

    def wrapper_func(self: Scaffold, *args: Any, **kwargs: Any) -> Any:
        self._check_setup_finished(f_name)
        return f(self, *args, **kwargs)

    wrapper_func.__name__ = f_name
    wrapper_func.__qualname__ = f.__qualname__
    wrapper_func.__doc__ = f.__doc__
    wrapper_func.__wrapped__ = f  # type: ignore[attr-defined]
    return wrapper_func  # type: ignore[return-value]


def _endpoint_from_view_func(view_func: Callable[..., Any] | None) -> str:
    if view_func is None:
        raise AssertionError(
            "expected a view function when no endpoint is given to add_url_rule()"
        )
    return view_func.__name__


def get_root_path(import_name: str) -> str:
    """Return the folder holding the module or package ``import_name``."""
    mod = sys.modules.get(import_name)
    if mod is not None and getattr(mod, "__file__", None) is not None:
        return os.path.dirname(os.path.abspath(mod.__file__))  # type: ignore[arg-type]
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or import_name == "__main__":
        return os.getcwd()
    if spec.submodule_search_locations:
        # A package: its folder.
        return os.path.dirname(os.path.abspath(spec.origin or ""))  # type: ignore[arg-type]
    if spec.origin in (None, "namespace", "built-in", "frozen"):
        raise RuntimeError(
            f"No root path can be found for {import_name!r}: it is a namespace"
            " package or built-in module. Pass root_path= explicitly."
        )
    return os.path.dirname(os.path.abspath(spec.origin))  # type: ignore[arg-type]


class Scaffold:
    """Common base of :class:`~erlen.Erlen` and :class:`~erlen.Blueprint`."""

    name: str
    _static_folder: str | None = None
    _static_url_path: str | None = None

    def __init__(
        self,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        root_path: str | None = None,
    ) -> None:
        self.import_name = import_name
        self.static_folder = static_folder  # type: ignore[assignment]
        self.static_url_path = static_url_path
        self.template_folder = template_folder
        if root_path is None:
            root_path = get_root_path(self.import_name)
        self.root_path = root_path

        self.view_functions: dict[str, ft.RouteCallable] = {}
        #: ``{scope: {code or None: {exception class: handler}}}``; scope is
        #: None for the app, or a blueprint's dotted name.
        self.error_handler_spec: dict[
            str | None,
            dict[int | None, dict[type[Exception], ft.ErrorHandlerCallable]],
        ] = defaultdict(lambda: defaultdict(dict))
        self.before_request_funcs: dict[str | None, list[ft.BeforeRequestCallable]] = (
            defaultdict(list)
        )
        self.after_request_funcs: dict[str | None, list[ft.AfterRequestCallable]] = (
            defaultdict(list)
        )
        self.teardown_request_funcs: dict[str | None, list[ft.TeardownCallable]] = (
            defaultdict(list)
        )
        self.template_context_processors: dict[
            str | None, list[ft.TemplateContextProcessorCallable]
        ] = defaultdict(list)
        self.url_value_preprocessors: dict[
            str | None, list[ft.URLValuePreprocessorCallable]
        ] = defaultdict(list)
        self.url_default_functions: dict[str | None, list[ft.URLDefaultCallable]] = (
            defaultdict(list)
        )
        #: WebSocket hooks, keyed like the request ones (erlen.websockets).
        self.before_websocket_funcs: dict[str | None, list[Callable[[], Any]]] = (
            defaultdict(list)
        )
        self.after_websocket_funcs: dict[str | None, list[Callable[[Any], Any]]] = (
            defaultdict(list)
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _check_setup_finished(self, f_name: str) -> None:
        raise NotImplementedError  # pragma: no cover

    # -- static files -------------------------------------------------------------
    @property
    def static_folder(self) -> str | None:
        """The absolute path of the static folder, or None."""
        if self._static_folder is not None:
            return os.path.join(self.root_path, self._static_folder)
        return None

    @static_folder.setter
    def static_folder(self, value: str | os.PathLike[str] | None) -> None:
        if value is not None:
            value = os.fspath(value).rstrip(r"\/")
        self._static_folder = value

    @property
    def has_static_folder(self) -> bool:
        """Whether a static folder is configured."""
        return self.static_folder is not None

    @property
    def static_url_path(self) -> str | None:
        """The URL prefix static files are served under."""
        if self._static_url_path is not None:
            return self._static_url_path
        if self.static_folder is not None:
            basename = os.path.basename(self.static_folder)
            return f"/{basename}".rstrip("/")
        return None

    @static_url_path.setter
    def static_url_path(self, value: str | None) -> None:
        if value is not None:
            value = value.rstrip("/")
        self._static_url_path = value

    def send_static_file(self, filename: str) -> Any:
        """Serve ``filename`` from the static folder (the ``static`` endpoint)."""
        from .sending import send_from_directory

        if not self.has_static_folder:
            raise RuntimeError("'static_folder' must be set to serve static_files.")
        max_age = self.get_send_file_max_age(filename)  # type: ignore[attr-defined]
        return send_from_directory(self.static_folder, filename, max_age=max_age)  # type: ignore[arg-type]

    def open_resource(
        self, resource: str, mode: str = "rb", encoding: str | None = "utf-8"
    ) -> Any:
        """Open a file relative to :attr:`root_path` for reading.

        Example: ``with app.open_resource("schema.sql") as f: ...``
        """
        if mode not in {"r", "rt", "rb"}:
            raise ValueError("Resources can only be opened for reading.")
        path = os.path.join(self.root_path, resource)
        if mode == "rb":
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    # -- routes ---------------------------------------------------------------------
    def _method_route(
        self, method: str, rule: str, options: dict[str, Any]
    ) -> Callable[[F], F]:
        if "methods" in options:
            raise TypeError("Use the 'route' decorator to pass a 'methods' argument.")
        return self.route(rule, methods=[method], **options)

    def get(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Shortcut for :meth:`route` with ``methods=["GET"]``."""
        return self._method_route("GET", rule, options)

    def post(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Shortcut for :meth:`route` with ``methods=["POST"]``."""
        return self._method_route("POST", rule, options)

    def put(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Shortcut for :meth:`route` with ``methods=["PUT"]``."""
        return self._method_route("PUT", rule, options)

    def delete(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Shortcut for :meth:`route` with ``methods=["DELETE"]``."""
        return self._method_route("DELETE", rule, options)

    def patch(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Shortcut for :meth:`route` with ``methods=["PATCH"]``."""
        return self._method_route("PATCH", rule, options)

    def route(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Register the decorated function as the view for URL ``rule``.

        Example::

            @app.route("/user/<int:uid>", methods=["GET", "POST"])
            def user(uid): ...
        """

        def decorator(f: F) -> F:
            endpoint = options.pop("endpoint", None)
            self.add_url_rule(rule, endpoint, f, **options)
            return f

        return decorator

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        raise NotImplementedError  # pragma: no cover

    def websocket(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Register the decorated ``async def`` function as the WebSocket view for ``rule``.

        Options are those of :meth:`route` except ``methods``. Example::

            @app.websocket("/ws/<room>")
            async def chat(room):
                async for message in websocket:
                    await websocket.send(message)
        """

        def decorator(f: F) -> F:
            endpoint = options.pop("endpoint", None)
            self.add_websocket_rule(rule, endpoint, f, **options)
            return f

        return decorator

    def add_websocket_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        **options: Any,
    ) -> None:
        """Register a WebSocket rule; the imperative twin of :meth:`websocket`.

        :raise TypeError: ``view_func`` is not an ``async def`` function, or
            ``methods`` was passed (a WebSocket handshake is always a GET).
        """
        if "methods" in options:
            raise TypeError(
                "WebSocket routes take no 'methods': the handshake is a GET."
            )
        if view_func is not None and not (
            inspect.iscoroutinefunction(view_func)
            or getattr(view_func, "_erlen_async", False)
        ):
            name = getattr(view_func, "__name__", repr(view_func))
            raise TypeError(
                f"WebSocket view {name!r} must be an 'async def' function: it"
                " awaits websocket.receive() and websocket.send()."
            )
        self.add_url_rule(
            rule,
            endpoint,
            view_func,
            provide_automatic_options=False,
            websocket=True,
            **options,
        )

    def endpoint(self, endpoint: str) -> Callable[[F], F]:
        """Register the decorated function as the view for ``endpoint``."""

        def decorator(f: F) -> F:
            self.view_functions[endpoint] = f
            return f

        return decorator

    # -- hooks -----------------------------------------------------------------------
    @setupmethod
    def before_request(self, f: ft.T_before_request) -> ft.T_before_request:
        """Run ``f()`` before each request; a non-None result ends the request."""
        self.before_request_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def after_request(self, f: ft.T_after_request) -> ft.T_after_request:
        """Run ``f(response)`` after each request; it returns the response to send."""
        self.after_request_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def teardown_request(self, f: ft.T_teardown) -> ft.T_teardown:
        """Run ``f(exc)`` when the request context is popped, even after errors."""
        self.teardown_request_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def before_websocket(self, f: F) -> F:
        """Run ``f()`` before each WebSocket view; a non-None result refuses the handshake.

        The result becomes the HTTP response sent instead of accepting; ``f``
        may be sync or ``async def``.
        """
        self.before_websocket_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def after_websocket(self, f: F) -> F:
        """Run ``f(response)`` when a WebSocket view ends; it returns the response.

        ``response`` is the HTTP response refusing the handshake, or None when
        the connection was accepted; ``f`` may be sync or ``async def``.
        """
        self.after_websocket_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def context_processor(
        self, f: ft.T_template_context_processor
    ) -> ft.T_template_context_processor:
        """Add names returned by ``f()`` to every template's context."""
        self.template_context_processors[None].append(f)
        return f

    @setupmethod
    def url_value_preprocessor(
        self, f: ft.T_url_value_preprocessor
    ) -> ft.T_url_value_preprocessor:
        """Run ``f(endpoint, view_args)`` before the before-request functions."""
        self.url_value_preprocessors[None].append(f)
        return f

    @setupmethod
    def url_defaults(self, f: ft.T_url_defaults) -> ft.T_url_defaults:
        """Run ``f(endpoint, values)`` to fill in values when building URLs."""
        self.url_default_functions[None].append(f)
        return f

    # -- error handlers ----------------------------------------------------------------
    @setupmethod
    def errorhandler(
        self, code_or_exception: type[Exception] | int
    ) -> Callable[[ft.T_error_handler], ft.T_error_handler]:
        """Register the decorated function to handle an HTTP code or exception class.

        Example::

            @app.errorhandler(404)
            def not_found(e):
                return "nothing here", 404
        """

        def decorator(f: ft.T_error_handler) -> ft.T_error_handler:
            self.register_error_handler(code_or_exception, f)
            return f

        return decorator

    @setupmethod
    def register_error_handler(
        self, code_or_exception: type[Exception] | int, f: ft.ErrorHandlerCallable
    ) -> None:
        """Register ``f`` for an HTTP status code or an exception class."""
        exc_class, code = self._get_exc_class_and_code(code_or_exception)
        self.error_handler_spec[None][code][exc_class] = f

    @staticmethod
    def _get_exc_class_and_code(
        exc_class_or_code: type[Exception] | int,
    ) -> tuple[type[Exception], int | None]:
        exc_class: type[Exception]
        if isinstance(exc_class_or_code, int):
            try:
                exc_class = default_exceptions[exc_class_or_code]
            except KeyError:
                raise ValueError(
                    f"'{exc_class_or_code}' is not a recognized HTTP error code. Use a"
                    " subclass of HTTPException with that code instead."
                ) from None
        else:
            exc_class = exc_class_or_code
        if isinstance(exc_class, Exception):
            raise TypeError(
                f"{exc_class!r} is an instance, not a class. Handlers can only be"
                " registered for Exception classes or HTTP error codes."
            )
        if not isinstance(exc_class, type) or not issubclass(exc_class, Exception):
            raise ValueError(
                f"'{getattr(exc_class, '__name__', exc_class)}' is not a subclass of"
                " Exception. Handlers can only be registered for Exception classes"
                " or HTTP error codes."
            )
        if issubclass(exc_class, HTTPException):
            return exc_class, exc_class.code
        return exc_class, None
