"""Message flashing: ``flash`` a message now, read it on the next request.

Flashed messages are kept in the session under ``"_flashes"`` as a list of
``(category, message)`` pairs, so they survive a redirect in the session cookie.
The first :func:`get_flashed_messages` of a request takes them out of the session
and keeps them on the request context (``RequestContext.flashes``); later calls in
the same request return that list again.

May import: erlen.globals, erlen.signals. The app is reached through the context.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import signals
from .globals import _cv_ctx, _no_req_msg

#: The session key holding pending messages (Flask's name, so sessions interoperate).
_SESSION_KEY = "_flashes"


def _request_ctx() -> Any:
    ctx = _cv_ctx.get(None)
    if ctx is None or ctx.request is None:
        raise RuntimeError(_no_req_msg)
    return ctx


def flash(message: str, category: str = "message") -> None:
    """Store ``message`` in the session to show on a later request.

    :param message: the text to show; Markup stays Markup through the cookie.
    :param category: any string; ``"message"``, ``"error"``, ``"info"`` and
        ``"warning"`` are the conventional ones.
    :raise RuntimeError: outside a request context.

    Example::

        flash("Saved.", "info")
        return redirect(url_for("index"))
    """
    ctx = _request_ctx()
    session = ctx.session
    flashes = session.get(_SESSION_KEY, [])
    flashes.append((category, message))
    # Assign, not only mutate: a mutation of the stored list is invisible to the
    # session's change tracking, so the cookie would not be rewritten.
    session[_SESSION_KEY] = flashes
    if signals.message_flashed.receivers:
        app = ctx.app
        signals.message_flashed.send(
            app, _async_wrapper=app.ensure_sync, message=message, category=category
        )


def get_flashed_messages(
    with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[str] | list[tuple[str, str]]:
    """Return the flashed messages and remove them from the session.

    Every call during one request returns the same messages, so a layout and a
    page may both ask for them. Messages flashed after the first call of a
    request are kept for the next request.

    :param with_categories: return ``(category, message)`` pairs instead of
        messages only.
    :param category_filter: return only messages whose category is in it.
    :raise RuntimeError: outside a request context.

    Example (in a template)::

        {% for category, message in get_flashed_messages(with_categories=true) %}
          <p class="{{ category }}">{{ message }}</p>
        {% endfor %}
    """
    ctx = _request_ctx()
    flashes = ctx.flashes
    if flashes is None:
        session = ctx.session
        # PERF: test membership first so a request without messages does not
        # mark the session modified (pop would) and re-send the cookie.
        flashes = session.pop(_SESSION_KEY) if _SESSION_KEY in session else []
        ctx.flashes = flashes
    if category_filter:
        if isinstance(category_filter, str):
            category_filter = (category_filter,)
        flashes = [f for f in flashes if f[0] in category_filter]
    if not with_categories:
        return [f[1] for f in flashes]
    return flashes


__all__ = ["flash", "get_flashed_messages"]
