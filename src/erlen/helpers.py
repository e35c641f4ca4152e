"""View helpers: ``url_for``, ``abort``, ``redirect``, ``make_response``, streaming, files.

Functions here use the current app when one is active, as Flask's do.

May import: erlen.globals, erlen.wrappers, erlen.sending (``send_file`` and
``send_from_directory`` are re-exported from it). The app is reached through the
proxies.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import update_wrapper
from typing import TYPE_CHECKING, Any, NoReturn

from markupsafe import escape
from werkzeug.exceptions import Aborter as _WzAborter
from werkzeug.exceptions import HTTPException
from werkzeug.urls import iri_to_uri

from .flashing import flash as flash
from .flashing import get_flashed_messages as get_flashed_messages
from .globals import _cv_ctx, current_app
from .sending import send_file as send_file
from .sending import send_from_directory as send_from_directory
from .templating import get_template_attribute as get_template_attribute
from .templating import render_template as render_template
from .templating import render_template_string as render_template_string
from .templating import stream_template as stream_template
from .templating import stream_template_string as stream_template_string

if TYPE_CHECKING:  # pragma: no cover
    from .wrappers import Response

# Schemes a browser parses "scheme:host" as "scheme://host" for (WHATWG URL).
_SPECIAL_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:", "file:")


def url_for(
    endpoint: str,
    *,
    _anchor: str | None = None,
    _method: str | None = None,
    _scheme: str | None = None,
    _external: bool | None = None,
    **values: Any,
) -> str:
    """Build the URL of ``endpoint`` with the given values.

    Unknown values go to the query string; a leading ``.`` names an endpoint of
    the current blueprint. Example: ``url_for("user", uid=7, q="x")`` →
    ``"/user/7?q=x"``.
    """
    return current_app.url_for(
        endpoint,
        _anchor=_anchor,
        _method=_method,
        _scheme=_scheme,
        _external=_external,
        **values,
    )


class Aborter(_WzAborter):
    """Werkzeug's ``Aborter`` that also takes erlen's response objects.

    ``aborter(404)`` raises the NotFound class; ``aborter(response)`` ends the
    request with exactly that response (Werkzeug only recognises its own
    Response class there). :meth:`erlen.Erlen.make_aborter` returns one.
    """

    def __call__(self, code: Any, *args: Any, **kwargs: Any) -> NoReturn:
        if not isinstance(code, int):
            raise HTTPException(response=code)
        super().__call__(code, *args, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover


_default_aborter = Aborter()


def abort(code: int | Response, *args: Any, **kwargs: Any) -> NoReturn:
    """Raise the HTTPException for ``code`` (or one carrying a response).

    Uses the current app's :attr:`~erlen.Erlen.aborter` when an app context is
    active. Example: ``abort(404)``, ``abort(403, description="not yours")``.
    """
    ctx = _cv_ctx.get(None)
    aborter = _default_aborter if ctx is None else ctx.app.aborter
    aborter(code, *args, **kwargs)
    raise AssertionError("unreachable")  # pragma: no cover


def safe_location(location: str) -> str:
    """Return ``location`` in the form sent as a ``Location`` header.

    A relative target can never be read by a browser as another host: leading
    slashes and backslashes collapse to one slash, and tabs are removed
    (WHATWG URL parsing drops them). CR, LF and NUL raise ValueError (header
    injection), as does a ``scheme:host`` form without ``//`` for http(s)/ws(s),
    which browsers resolve to a foreign host. Absolute ``http://host/`` URLs pass
    unchanged: the app asked for them.
    """
    if "\r" in location or "\n" in location or "\0" in location:
        raise ValueError("Redirect targets must not contain CR, LF or NUL characters.")
    location = location.replace("\t", "").strip(" \x0b\x0c")
    lowered = location[:6].lower()
    for scheme in _SPECIAL_SCHEMES:
        if lowered.startswith(scheme):
            rest = location[len(scheme) :]
            if not rest.startswith("//"):
                raise ValueError(
                    f"Ambiguous redirect target {location!r}: write"
                    f" '{scheme}//host/...' for another site, or a path."
                )
            return iri_to_uri(location)
    if location[:1] in ("/", "\\"):
        stripped = location.lstrip("/\\")
        location = "/" + stripped
    return iri_to_uri(location)


def redirect(
    location: str, code: int = 302, Response: type[Response] | None = None
) -> Response:
    """Return a response that redirects the client to ``location``.

    Example: ``return redirect(url_for("login"))``.
    """
    if Response is None:
        ctx = _cv_ctx.get(None)
        if ctx is not None:
            return ctx.app.redirect(location, code)
        from .wrappers import Response as Response
    return _make_redirect(Response, location, code)


def _make_redirect(
    response_class: type[Response], location: str, code: int
) -> Response:
    location = safe_location(location)
    html_location = escape(location)
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the"
        f' target URL: <a href="{html_location}">{html_location}</a>. If not, click'
        " the link.\n"
    )
    rv = response_class(body, code, mimetype="text/html")
    rv.headers["Location"] = location
    return rv


def make_response(*args: Any) -> Response:
    """Turn view-style return values into a response object to modify.

    Example::

        resp = make_response(render_template("x.html"), 200)
        resp.headers["X-Thing"] = "y"
    """
    if not args:
        return current_app.response_class()
    if len(args) == 1:
        args = args[0]
    return current_app.make_response(args)


def stream_with_context(
    generator_or_function: Iterator[Any] | Callable[..., Iterator[Any]],
) -> Any:
    """Keep the current request context available while a response streams.

    Use as a decorator on a generator function, or around a generator::

        return Response(stream_with_context(generate()))

    The code before the generator's first ``yield`` runs immediately, inside the
    view. Teardown functions run when the request ends, as usual.
    """
    if hasattr(generator_or_function, "__aiter__"):
        return _stream_async_with_context(generator_or_function)
    try:
        gen = iter(generator_or_function)  # type: ignore[arg-type]
    except TypeError:
        func = generator_or_function

        def decorator(*args: Any, **kwargs: Any) -> Any:
            return stream_with_context(func(*args, **kwargs))  # type: ignore[operator]

        return update_wrapper(decorator, func)  # type: ignore[arg-type]

    ctx = _cv_ctx.get(None)
    if ctx is None or ctx.request is None:
        raise RuntimeError(
            "'stream_with_context' can only be used when a request context is"
            " active, such as in a view function."
        )

    def generator() -> Iterator[Any]:
        # The context is set around each step, not across the whole generator:
        # an ASGI server runs each step in a worker thread with its own
        # context, so a token must be reset in the context that set it.
        try:
            while True:
                token = _cv_ctx.set(ctx)
                try:
                    chunk = next(gen)
                except StopIteration:
                    return
                finally:
                    _cv_ctx.reset(token)
                yield chunk
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                token = _cv_ctx.set(ctx)
                try:
                    close()
                finally:
                    _cv_ctx.reset(token)

    return generator()


def _stream_async_with_context(source: Any) -> Any:
    """:func:`stream_with_context` for an async generator or iterator."""
    agen = source.__aiter__()
    ctx = _cv_ctx.get(None)
    if ctx is None or ctx.request is None:
        raise RuntimeError(
            "'stream_with_context' can only be used when a request context is"
            " active, such as in a view function."
        )

    async def generator() -> Any:
        try:
            while True:
                token = _cv_ctx.set(ctx)
                try:
                    chunk = await agen.__anext__()
                except StopAsyncIteration:
                    return
                finally:
                    _cv_ctx.reset(token)
                yield chunk
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                token = _cv_ctx.set(ctx)
                try:
                    await aclose()
                finally:
                    _cv_ctx.reset(token)

    return generator()


def get_debug_flag() -> bool:
    """Return whether the environment asks for debug mode.

    ``ERLEN_DEBUG`` is read first, then ``FLASK_DEBUG`` (so migrating apps keep
    their setting); ``0``, ``false`` and ``no`` mean off.
    """
    for name in ("ERLEN_DEBUG", "FLASK_DEBUG"):
        value = os.environ.get(name)
        if value:
            return value.lower() not in {"0", "false", "no"}
    return False


def get_root_path(import_name: str) -> str:
    """Return the folder of module or package ``import_name``."""
    from .scaffold import get_root_path as _get_root_path

    return _get_root_path(import_name)
