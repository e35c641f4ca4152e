"""The app logger: :func:`create_logger`, :data:`default_handler` and the
stream it writes to.

Log records go to the WSGI server's error stream (``environ["wsgi.errors"]``)
while a request that has one is being handled, and to ``sys.stderr`` otherwise
(outside requests, and under ASGI, which has no such stream).

Imports only :mod:`erlen.globals` from erlen.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from .globals import ContextProxy, _cv_ctx


def _find_errors_stream() -> TextIO:
    """Return ``wsgi.errors`` of the current request, else ``sys.stderr``."""
    ctx = _cv_ctx.get(None)
    request = None if ctx is None else ctx.request
    if request is not None:
        # getattr: an ASGI request may carry no environ at all.
        environ = getattr(request, "environ", None)
        if environ:
            stream = environ.get("wsgi.errors")
            if stream is not None:
                return stream  # type: ignore[no-any-return]
    # Looked up on every call (not bound at import) so that a replaced
    # sys.stderr, such as pytest's capture, is honoured.
    return sys.stderr


#: The stream the :data:`default_handler` writes to: a proxy that is the
#: current request's ``environ["wsgi.errors"]`` when there is one, and
#: ``sys.stderr`` otherwise.
wsgi_errors_stream: TextIO = ContextProxy(  # type: ignore[assignment]
    _find_errors_stream, "wsgi_errors_stream"
)


def has_level_handler(logger: logging.Logger) -> bool:
    """Tell whether a handler would take records at *logger*'s effective level.

    Looks at the logger's handlers, then its ancestors', as long as records
    propagate — the same path :meth:`logging.Logger.callHandlers` walks.

    :param logger: the logger to check.
    :return: ``True`` if any handler on that path has a level at or below the
        logger's effective level.
    """
    level = logger.getEffectiveLevel()
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if handler.level <= level:
                return True
        if not current.propagate:
            return False
        current = current.parent
    return False


#: The handler :func:`create_logger` adds when no configured handler would
#: show the app's records. Remove it to take over logging entirely::
#:
#:     from erlen.logging import default_handler
#:     app.logger.removeHandler(default_handler)
default_handler = logging.StreamHandler(wsgi_errors_stream)
default_handler.setFormatter(
    logging.Formatter("[%(asctime)s] %(levelname)s in %(module)s: %(message)s")
)


def create_logger(app: Any) -> logging.Logger:
    """Return the logger named after the app, set up for it.

    The logger is ``logging.getLogger(app.name)``. When ``app.debug`` is true
    and the logger has no level of its own, its level becomes ``DEBUG``. When
    no handler on the logger or its ancestors would show records at the
    logger's effective level, :data:`default_handler` is added. Logging
    configured before this call (``logging.basicConfig``, ``dictConfig``) is
    therefore left alone.

    :param app: an object with ``name`` and ``debug`` attributes.
    """
    logger = logging.getLogger(app.name)
    if app.debug and not logger.level:
        logger.setLevel(logging.DEBUG)
    if not has_level_handler(logger):
        logger.addHandler(default_handler)
    return logger


__all__ = [
    "create_logger",
    "default_handler",
    "has_level_handler",
    "wsgi_errors_stream",
]
