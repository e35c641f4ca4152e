"""JSON helpers using the current app's provider: ``dumps``, ``loads``, ``jsonify``.

Inside an app context each helper calls the app's provider (``app.json``, see
:mod:`erlen.json.provider`); outside one they use the standard library with the
same extra types the default provider knows (dates, UUID, Decimal, dataclasses,
``__html__``).

Imports :mod:`erlen.globals` and :mod:`erlen.json.provider`.
"""

from __future__ import annotations

import json as _json
from typing import IO, TYPE_CHECKING, Any

from ..globals import _cv_ctx, current_app
from .provider import DefaultJSONProvider, JSONProvider, _default, _nesting_error

if TYPE_CHECKING:  # pragma: no cover
    from ..wrappers.response import Response

__all__ = [
    "DefaultJSONProvider",
    "JSONProvider",
    "dump",
    "dumps",
    "jsonify",
    "load",
    "loads",
]


def dumps(obj: Any, **kwargs: Any) -> str:
    """Serialize ``obj`` to a JSON string.

    Uses ``current_app.json.dumps`` in an app context, otherwise
    :func:`json.dumps` with the default provider's ``default`` function.

    :param obj: the value to serialize.
    :param kwargs: passed on to the ``dumps`` used.
    """
    ctx = _cv_ctx.get(None)
    if ctx is not None:
        return ctx.app.json.dumps(obj, **kwargs)  # type: ignore[no-any-return]
    kwargs.setdefault("default", _default)
    return _json.dumps(obj, **kwargs)


def dump(obj: Any, fp: IO[str], **kwargs: Any) -> None:
    """Serialize ``obj`` as JSON into the text file ``fp``.

    Uses ``current_app.json.dump`` in an app context, otherwise :func:`json.dump`.

    :param obj: the value to serialize.
    :param fp: a file opened for writing text.
    :param kwargs: passed on to the ``dump`` used.
    """
    ctx = _cv_ctx.get(None)
    if ctx is not None:
        ctx.app.json.dump(obj, fp, **kwargs)
        return
    kwargs.setdefault("default", _default)
    _json.dump(obj, fp, **kwargs)


def loads(s: str | bytes, **kwargs: Any) -> Any:
    """Parse the JSON document ``s`` (text, or UTF-8/16/32 bytes).

    Uses ``current_app.json.loads`` in an app context, otherwise :func:`json.loads`.

    :raise ValueError: for malformed input; input nested too deeply for the
        parser raises :class:`json.JSONDecodeError` too, never
        :class:`RecursionError`.
    """
    try:
        ctx = _cv_ctx.get(None)
        if ctx is not None:
            return ctx.app.json.loads(s, **kwargs)
        return _json.loads(s, **kwargs)
    except RecursionError:
        raise _nesting_error(s) from None


def load(fp: IO[Any], **kwargs: Any) -> Any:
    """Parse the JSON document read from ``fp`` (a text or binary file).

    Uses ``current_app.json.load`` in an app context, otherwise :func:`json.load`.

    :raise ValueError: for malformed input, as :func:`loads`.
    """
    ctx = _cv_ctx.get(None)
    if ctx is not None:
        try:
            return ctx.app.json.load(fp, **kwargs)
        except RecursionError:
            raise _nesting_error("") from None
    return loads(fp.read(), **kwargs)


def jsonify(*args: Any, **kwargs: Any) -> Response:
    """Return an ``application/json`` response holding the arguments.

    One positional argument is serialized as is, several as a list, keyword
    arguments as a dict, and no arguments as ``null``. Views may also simply
    return a dict or list. Needs an app context; calls
    ``current_app.json.response``.

    Example::

        @app.route("/user")
        def user():
            return jsonify(name="ada", id=1)

    :raise TypeError: if both positional and keyword arguments are given.
    """
    return current_app.json.response(*args, **kwargs)  # type: ignore[no-any-return]
