"""Test helpers: the test client, its response class and the environ builder.

:class:`ErlenClient` is what :meth:`Erlen.test_client` returns. It drives the app
as a WSGI server would, without a socket, and keeps a cookie jar across requests.
It builds on :class:`werkzeug.test.Client` for the jar, redirect resolution and
running the WSGI callable; erlen adds the app-aware :class:`EnvironBuilder`
(base URL from the config, JSON through ``app.json``), ``with client:`` to keep
the last request's context for inspection, and :meth:`~ErlenClient.session_transaction`.

Responses come back as :class:`TestResponse`, erlen's :class:`~erlen.wrappers.Response`
plus ``request``, ``history``, ``text`` and a ``json`` that works after the request.

May import: erlen.globals (for :data:`~erlen.globals.PRESERVE_CONTEXT_KEY`),
erlen.wrappers, erlen.typing, erlen.testing_asgi (the ASGI driver and the
WebSocket session); erlen.cli lazily (for :class:`ErlenCliRunner`).
The app is passed in.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from copy import copy
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import werkzeug.test
from click.testing import CliRunner, Result
from werkzeug.datastructures import Headers
from werkzeug.test import ClientRedirectError
from werkzeug.wsgi import get_current_url

from .globals import PRESERVE_CONTEXT_KEY
from .testing_asgi import WebsocketRejected, WebsocketTestSession
from .wrappers import Response

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .ctx import RequestContext
    from .sessions import SessionMixin
    from .typing import WSGIEnvironment
    from .wrappers import Request

#: Status codes the client follows with ``follow_redirects=True`` (as werkzeug).
_REDIRECT_CODES = frozenset({301, 302, 303, 305, 307, 308})


@cache
def _erlen_version() -> str:
    try:
        return importlib.metadata.version("erlen")
    except importlib.metadata.PackageNotFoundError:
        # Running from a source tree that was never installed.
        return "unknown"


class EnvironBuilder(werkzeug.test.EnvironBuilder):
    """Build a WSGI environ for ``app``, taking defaults from its config.

    Accepts every argument of :class:`werkzeug.test.EnvironBuilder` (``method``,
    ``query_string``, ``headers``, ``data``, ``json``, ``environ_base`` ...).
    Without ``base_url``, the scheme comes from ``url_scheme`` or
    ``PREFERRED_URL_SCHEME``, the host from ``SERVER_NAME`` (``localhost`` when
    unset, prefixed with ``subdomain``), and the script root from
    ``APPLICATION_ROOT``. A ``path`` that is a full URL supplies its own scheme
    and host. ``json=`` is serialised with ``app.json``.

    Example::

        builder = EnvironBuilder(app, "/search?q=x", method="POST", json={"a": 1})
        environ = builder.get_environ()

    :param app: the app the environ is meant for.
    :param path: the request path, optionally with a query string, or a full URL.
    :param base_url: scheme, host and script root in one URL; excludes
        ``subdomain`` and ``url_scheme``.
    :param subdomain: prefixed to ``SERVER_NAME`` to form the host.
    :param url_scheme: ``http`` or ``https``; default ``PREFERRED_URL_SCHEME``.
    """

    def __init__(
        self,
        app: Erlen,
        path: str = "/",
        base_url: str | None = None,
        subdomain: str | None = None,
        url_scheme: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if base_url is not None:
            if subdomain or url_scheme:
                raise TypeError(
                    "Pass either 'base_url' or 'subdomain'/'url_scheme', not both:"
                    " 'base_url' already gives the scheme and host."
                )
        else:
            base_url, path = _split_base_url(app, path, subdomain, url_scheme)
        self.app = app
        super().__init__(path, base_url, *args, **kwargs)

    def json_dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise ``obj`` with the app's JSON provider (used for ``json=``)."""
        return self.app.json.dumps(obj, **kwargs)

    def get_request(self, cls: type[Any] | None = None) -> Request:  # type: ignore[override]
        """Return a request object for the built environ (``app.request_class``)."""
        if cls is None:
            cls = self.app.request_class
        return cls(self.get_environ())  # type: ignore[no-any-return]


def _split_base_url(
    app: Erlen, path: str, subdomain: str | None, url_scheme: str | None
) -> tuple[str, str]:
    """Return (base URL, path with query) for ``path`` requested from ``app``."""
    config = app.config
    host = config.get("SERVER_NAME") or "localhost"
    if subdomain:
        host = f"{subdomain}.{host}"
    if url_scheme is None:
        url_scheme = config.get("PREFERRED_URL_SCHEME") or "http"
    root = (config.get("APPLICATION_ROOT") or "/").lstrip("/")
    # A full URL as the path brings its own scheme and host.
    url = urlsplit(path)
    base_url = f"{url.scheme or url_scheme}://{url.netloc or host}/{root}"
    path = url.path
    if url.query:
        path = f"{path}?{url.query}"
    return base_url, path


class TestResponse(Response):
    """The response the test client returns: erlen's Response plus test details.

    Besides everything a :class:`~erlen.wrappers.Response` has (``status``,
    ``status_code``, ``headers``, ``data``, ``get_data()``, ``mimetype``,
    ``location`` ...), it carries:

    - ``request``: the request object for the environ that was sent;
    - ``history``: the redirect responses followed to reach this one
      (``follow_redirects=True``), oldest first;
    - ``text``: the body decoded as text;
    - ``json`` / ``get_json()``: the body parsed with the app's JSON provider
      (the client sets ``json_module`` to ``app.json``), or None when the
      mimetype is not JSON. It works after the request has ended.

    The constructor takes what :meth:`werkzeug.test.Client.run_wsgi_app`
    returns — ``(app_iter, status, headers)`` — plus ``request=``, so the
    werkzeug client machinery can build it. Call :meth:`close` (or use
    ``with response:``) when the app streamed a file, so it is closed.
    """

    # Not a test class, though its name starts with "Test".
    __test__ = False
    #: The app's headers are taken as sent: no Content-Type is added when the
    #: response had none.
    default_mimetype = None

    def __init__(
        self,
        response: Iterable[bytes] | None = None,
        status: str | int | None = None,
        headers: Headers | None = None,
        request: Request | None = None,
        history: tuple[TestResponse, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(response, status=status, headers=headers, **kwargs)
        #: The request the client sent for this response.
        self.request = request
        #: Responses of the redirects followed before this one.
        self.history = history

    @property
    def text(self) -> str:
        """The response body decoded as text (``get_data(as_text=True)``)."""
        return self.get_data(as_text=True)  # type: ignore[no-any-return]


def _test_response_class(cls: type[Response]) -> type[TestResponse]:
    """Return a TestResponse subclass that also derives from ``cls``."""
    if issubclass(cls, TestResponse):
        return cls
    if not issubclass(cls, Response):
        raise TypeError(
            f"The test client needs erlen's Response or a subclass of it as the"
            f" response class; got {cls!r}. Set 'app.response_class' to a subclass"
            " of erlen.Response."
        )
    if cls is Response:
        return TestResponse
    # One class per client, as werkzeug does: a cache keyed by class would keep
    # every response class a test suite defines alive.
    return type(f"Test{cls.__name__}", (TestResponse, cls), {"__module__": __name__})


class ErlenClient(werkzeug.test.Client):
    """Send requests to an app without a server; returned by :meth:`Erlen.test_client`.

    Example::

        client = app.test_client()
        rv = client.post("/login", data={"user": "a", "pw": "b"}, follow_redirects=True)
        assert rv.status_code == 200

        with client:
            client.get("/profile")
            assert request.path == "/profile"   # the request context is kept
            assert session["user"] == "a"

    Each method (``get``, ``post``, ``put``, ``patch``, ``delete``, ``head``,
    ``options``, ``trace``, ``open``) takes the arguments of
    :class:`EnvironBuilder`, plus ``buffered`` (read the whole body before
    returning) and ``follow_redirects`` (keep requesting the ``Location`` until
    the response is not a redirect; the redirects are in ``response.history``).

    Every request runs through one method, :meth:`run_wsgi_app` (werkzeug's:
    add the jar's cookies, call the app, store the ``Set-Cookie`` headers). A
    subclass overrides it to drive the app another way, for example over ASGI;
    it returns ``(body iterable, status line, Headers)``.

    :param application: the app to call.
    :param response_wrapper: response class to return; made a subclass of
        :class:`TestResponse` if it is not one. Default ``app.response_class``.
    :param use_cookies: keep cookies set by responses and send them back.
    :param allow_subdomain_redirects: follow redirects to subdomains.
    """

    application: Erlen
    response_wrapper: type[TestResponse]  # type: ignore[assignment]

    def __init__(
        self,
        application: Erlen,
        response_wrapper: type[Response] | None = None,
        use_cookies: bool = True,
        allow_subdomain_redirects: bool = False,
        asgi: bool = False,
    ) -> None:
        #: Send requests through the app's ASGI interface instead of WSGI.
        self.asgi = asgi
        super().__init__(
            application,  # type: ignore[arg-type]
            None,
            use_cookies=use_cookies,
            allow_subdomain_redirects=allow_subdomain_redirects,
        )
        # werkzeug would mix its own TestResponse (a werkzeug Response) into the
        # class; erlen's responses are erlen's, so pick the wrapper here.
        self.response_wrapper = _test_response_class(
            response_wrapper or application.response_class
        )
        #: Environ values every request starts from; per-request ``environ_base``
        #: entries override them.
        self.environ_base: dict[str, Any] = {
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_USER_AGENT": f"erlen/{_erlen_version()}",
        }
        #: True inside ``with client:``: request contexts are kept after requests.
        self.preserve_context = False
        self._preserved: list[tuple[RequestContext, BaseException | None]] = []

    # -- building the environ -------------------------------------------------------
    def _copy_environ(self, other: dict[str, Any]) -> dict[str, Any]:
        return {**self.environ_base, **other}

    def _environ_from_args(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> WSGIEnvironment:
        arg = args[0] if args else None
        if isinstance(arg, werkzeug.test.EnvironBuilder):
            # Copy so the caller's builder keeps its own environ_base.
            builder = copy(arg)
            builder.environ_base = self._copy_environ(builder.environ_base or {})
            return builder.get_environ()
        if isinstance(arg, dict):
            builder = EnvironBuilder.from_environ(
                arg, app=self.application, environ_base=self._copy_environ({})
            )
            return builder.get_environ()
        if arg is not None and not isinstance(arg, str) and hasattr(arg, "environ"):
            # A request object (erlen's or werkzeug's): resend its environ.
            return self._copy_environ(arg.environ)
        kwargs["environ_base"] = self._copy_environ(kwargs.get("environ_base") or {})
        builder = EnvironBuilder(self.application, *args, **kwargs)
        try:
            return builder.get_environ()
        finally:
            builder.close()

    # -- sending --------------------------------------------------------------------
    def open(  # type: ignore[override]
        self,
        *args: Any,
        buffered: bool = False,
        follow_redirects: bool = False,
        **kwargs: Any,
    ) -> TestResponse:
        """Build a request from the arguments, send it, and return the response.

        ``args`` may also be a single :class:`werkzeug.test.EnvironBuilder`, a
        WSGI environ dict, or a request object to resend.
        """
        environ = self._environ_from_args(args, kwargs)
        if self.preserve_context:
            environ[PRESERVE_CONTEXT_KEY] = self._keep_context
        else:
            environ.pop(PRESERVE_CONTEXT_KEY, None)
        # The context kept from the previous request must go before the next
        # request pushes its own, or the new one would nest inside it.
        self._pop_preserved()
        response = self._send(environ, buffered)
        if follow_redirects:
            response = self._follow_redirects(response, buffered)
            # Close the request body (possibly a temporary file) with the final
            # response. Only here, as werkzeug does: the redirect requests are
            # sent through open() too, and a 307/308 resends the previous body.
            response.call_on_close(environ["wsgi.input"].close)
        return response

    def run_wsgi_app(
        self, environ: WSGIEnvironment, buffered: bool = False
    ) -> tuple[Iterable[bytes], str, Headers]:
        """Run the app on ``environ`` (through ASGI when ``asgi=True``)."""
        if not self.asgi:
            return super().run_wsgi_app(environ, buffered=buffered)
        from .testing_asgi import run_asgi

        self._add_cookies_to_wsgi(environ)
        chunks, status, headers, _ = run_asgi(self.application, environ)
        url = urlsplit(get_current_url(environ))
        self._update_cookies_from_response(
            url.hostname or "localhost", url.path, headers.getlist("Set-Cookie")
        )
        return chunks, status, headers

    def _send(self, environ: WSGIEnvironment, buffered: bool) -> TestResponse:
        """Run the app on ``environ`` and wrap what it returned."""
        app_iter, status, headers = self.run_wsgi_app(environ, buffered=buffered)
        request = self.application.request_class(environ)
        response = self.response_wrapper(app_iter, status, headers, request=request)
        response.json_module = self.application.json
        return response

    def _follow_redirects(self, response: TestResponse, buffered: bool) -> TestResponse:
        seen: set[tuple[str | None, int]] = set()
        history: list[TestResponse] = []
        while response.status_code in _REDIRECT_CODES:
            # Run the body to its end so cleanup code in a generator runs.
            response.get_data()
            response.close()
            entry = (response.location, response.status_code)
            if entry in seen:
                raise ClientRedirectError(
                    f"Loop detected: A {response.status_code} redirect"
                    f" to {response.location} was already made."
                )
            seen.add(entry)
            response.history = tuple(history)
            history.append(response)
            # werkzeug's resolver builds the next request and calls self.open.
            response = self.resolve_redirect(response, buffered=buffered)  # type: ignore[arg-type,assignment]
        response.history = tuple(history)
        return response

    # -- WebSockets -----------------------------------------------------------------
    def websocket_connect(
        self,
        path: str = "/",
        subprotocols: Iterable[str] | None = None,
        headers: Any = None,
        *,
        timeout: float = 10.0,
        http_response: bool = True,
        **kwargs: Any,
    ) -> WebsocketTestSession:
        """Open a WebSocket connection to the app; use it as a context manager.

        WebSockets are served over ASGI only, so this works whatever the
        client's ``asgi`` flag. The client's cookies are sent with the
        handshake, and cookies set on it are stored. Example::

            with client.websocket_connect("/ws/lobby", subprotocols=["chat"]) as ws:
                assert ws.accepted_subprotocol == "chat"
                ws.send_text("hi")
                assert ws.receive_text() == "hi"

        :param path: the URL path, with an optional query string.
        :param subprotocols: offered in ``Sec-WebSocket-Protocol``.
        :param headers: extra handshake headers (``Origin``, ...).
        :param timeout: seconds to wait for each message from the app.
        :param http_response: offer the ASGI ``websocket.http.response``
            extension, so a refusal carries the app's status and body; without
            it a refusal is a 403, as on servers lacking the extension.
        :param kwargs: other :class:`EnvironBuilder` arguments
            (``query_string``, ``base_url``, ...).
        :raise erlen.testing.WebsocketRejected: on entering, when the app
            refuses the handshake.
        """
        if headers is not None:
            kwargs["headers"] = headers
        environ = self._environ_from_args((path,), kwargs)
        return WebsocketTestSession(self, environ, subprotocols, timeout, http_response)

    # -- ``with client:`` -----------------------------------------------------------
    def _keep_context(self, ctx: RequestContext, error: BaseException | None) -> None:
        """Receive a finished request's context from the WSGI adapter (not popped)."""
        if error is not None and ctx.app.should_ignore_error(error):
            error = None
        self._preserved.append((ctx, error))

    def _pop_preserved(self) -> None:
        preserved = self._preserved
        while preserved:
            ctx, error = preserved.pop()
            ctx.pop(error)

    def __enter__(self) -> ErlenClient:
        if self.preserve_context:
            raise RuntimeError("Cannot nest client invocations")
        self.preserve_context = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.preserve_context = False
        self._pop_preserved()

    # -- sessions -------------------------------------------------------------------
    @contextmanager
    def session_transaction(self, *args: Any, **kwargs: Any) -> Iterator[SessionMixin]:
        """Open the client's session to read or change it outside a request.

        The session is loaded from the client's cookies through
        ``app.session_interface``; when the block ends it is saved and the
        resulting cookie is stored in the client. Arguments are those of
        :class:`EnvironBuilder` and shape the request the session is opened for.

        Example::

            with client.session_transaction() as sess:
                sess["user_id"] = 1
            client.get("/profile")   # the view sees session["user_id"] == 1

        :raises TypeError: the client was created with ``use_cookies=False``.
        :raises RuntimeError: the session interface could not open a session
            (for the default interface: ``SECRET_KEY`` is not set).
        """
        if self._cookies is None:
            raise TypeError(
                "Cookies are disabled. Create a client with 'use_cookies=True'."
            )
        app = self.application
        builder = EnvironBuilder(app, *args, **kwargs)
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        self._add_cookies_to_wsgi(environ)
        ctx = app.request_context(environ)
        iface = app.session_interface
        with ctx:
            sess = iface.open_session(app, ctx.request)
        if sess is None or iface.is_null_session(sess):
            raise RuntimeError(
                "Session backend did not open a session. With the default cookie"
                " session, set 'SECRET_KEY' on the app (app.secret_key = ...)."
            )
        yield sess
        response = app.response_class()
        with ctx:
            iface.save_session(app, sess, response)
        url = urlsplit(get_current_url(environ))
        self._update_cookies_from_response(
            url.hostname or "localhost",
            url.path,
            response.headers.getlist("Set-Cookie"),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.application!r}>"


# -- CLI runner (erlen.cli) ------------------------------------------------------------
class ErlenCliRunner(CliRunner):
    """A :class:`click.testing.CliRunner` bound to an app; see ``app.test_cli_runner()``.

    Example::

        runner = app.test_cli_runner()
        result = runner.invoke(args=["seed-db", "--count", "3"])
        assert result.exit_code == 0, result.output
    """

    def __init__(self, app: Erlen, **kwargs: Any) -> None:
        self.app = app
        super().__init__(**kwargs)

    def invoke(  # type: ignore[override]
        self, cli: Any = None, args: Any = None, **kwargs: Any
    ) -> Result:
        """Run ``cli`` (default: ``app.cli``) with ``args`` against this app.

        The command gets a :class:`~erlen.cli.ScriptInfo` that loads this app, so
        :func:`~erlen.cli.with_appcontext` commands run in its context. Other
        arguments are those of :meth:`click.testing.CliRunner.invoke`.
        """
        if cli is None:
            cli = self.app.cli
        if "obj" not in kwargs:
            from .cli import ScriptInfo

            kwargs["obj"] = ScriptInfo(create_app=lambda: self.app)
        return super().invoke(cli, args, **kwargs)


__all__ = [
    "EnvironBuilder",
    "ErlenCliRunner",
    "ErlenClient",
    "TestResponse",
    "WebsocketRejected",
]
