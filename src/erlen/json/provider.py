"""JSON providers: the object behind ``app.json`` that turns values into JSON and back.

:class:`JSONProvider` is the interface an app talks to; :class:`DefaultJSONProvider`
implements it on the standard library with Flask 3.1's defaults and output, and
:class:`OrjsonProvider` produces the very same bytes faster when :mod:`orjson` is
installed. :func:`default_provider_class` picks between the two.

Besides Flask's API, providers offer :meth:`JSONProvider.response_bytes`: the body
:meth:`~JSONProvider.response` would send, without building a response object.
The dispatcher uses it for views that return a ``dict`` or ``list``.

Imports no erlen module (the app is only reached through the weak reference it
passes in), so every layer may import this one.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import re
import uuid
import weakref
from collections.abc import Callable
from datetime import date
from functools import partial
from json.encoder import JSONEncoder
from json.encoder import c_make_encoder as _c_make_encoder  # None without _json
from json.encoder import encode_basestring as _escape
from json.encoder import encode_basestring_ascii as _escape_ascii
from typing import IO, TYPE_CHECKING, Any

from werkzeug.http import http_date

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised when orjson is not installed
    _orjson = None  # type: ignore[assignment]

if TYPE_CHECKING:  # pragma: no cover
    from ..wrappers.response import Response

__all__ = [
    "DefaultJSONProvider",
    "JSONProvider",
    "OrjsonProvider",
    "default_provider_class",
]

_COMPACT = (",", ":")


def _nesting_error(doc: str | bytes | bytearray) -> json.JSONDecodeError:
    """Return the error raised for input nested deeper than the parser can follow.

    The stdlib parser recurses once per ``[``/``{`` and overflows the stack on
    hostile input such as ``"[" * 100_000``; a :class:`RecursionError` would turn
    into a 500, so it is reported as malformed JSON instead (a 400 upstream).
    """
    text = doc if isinstance(doc, str) else ""
    return json.JSONDecodeError("JSON nested too deeply to decode", text, 0)


def _default(o: Any) -> Any:
    """Convert a value the JSON encoder does not know into one it does.

    Dates become HTTP date strings, ``Decimal`` and ``UUID`` become strings,
    dataclass instances become dicts, and anything with ``__html__`` (such as
    :class:`markupsafe.Markup`) becomes the text that method returns.

    :raise TypeError: for any other type.
    """
    if isinstance(o, date):
        return http_date(o)
    if isinstance(o, (decimal.Decimal, uuid.UUID)):
        return str(o)
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)  # type: ignore[arg-type]
    if hasattr(o, "__html__"):
        return str(o.__html__())
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


class JSONProvider:
    """Define the JSON operations an application uses.

    Subclass it to plug in another JSON library: implement at least
    :meth:`dumps` and :meth:`loads`; the other methods build on those. Install a
    provider by setting ``json_provider_class`` on an app subclass, or by
    assigning an instance to ``app.json``.

    :param app: the application. It is kept as a :func:`weakref.proxy` in
        ``self._app`` so the provider does not keep the app alive.

    Example::

        class UpperProvider(JSONProvider):
            def dumps(self, obj, **kwargs):
                return json.dumps(obj, **kwargs).upper()

            def loads(self, s, **kwargs):
                return json.loads(s, **kwargs)
    """

    def __init__(self, app: Any) -> None:
        self._app: Any = weakref.proxy(app)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize ``obj`` to a JSON string.

        :param obj: the value to serialize.
        :param kwargs: options for the underlying JSON library.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement dumps() to serialize JSON."
        )

    def dump(self, obj: Any, fp: IO[str], **kwargs: Any) -> None:
        """Serialize ``obj`` as JSON and write it to the text file ``fp``.

        :param obj: the value to serialize.
        :param fp: a file opened for writing text (UTF-8 makes valid JSON).
        :param kwargs: options for the underlying JSON library.
        """
        fp.write(self.dumps(obj, **kwargs))

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse the JSON document ``s``.

        :param s: text, or bytes in UTF-8 (or UTF-16/32 for the default provider).
        :param kwargs: options for the underlying JSON library.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement loads() to parse JSON."
        )

    def load(self, fp: IO[Any], **kwargs: Any) -> Any:
        """Parse the JSON document read from the file ``fp`` (text or bytes).

        :param fp: a file opened for reading.
        :param kwargs: options for the underlying JSON library.
        """
        return self.loads(fp.read(), **kwargs)

    def _prepare_response_obj(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # Flask's name for this step; custom providers that override
        # ``response`` call it, so it keeps this spelling.
        if args:
            if kwargs:
                raise TypeError(
                    "app.json.response() takes either args or kwargs, not both"
                )
            return args[0] if len(args) == 1 else args
        return kwargs or None

    def response_bytes(self, obj: Any) -> bytes:
        """Return the body :meth:`response` sends for the single value ``obj``.

        :param obj: the value to serialize.
        """
        return self.dumps(obj).encode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """Serialize the arguments to JSON and wrap them in an ``application/json``
        response of the app's ``response_class``.

        One positional argument is serialized as is, several as a list, keyword
        arguments as a dict; no arguments give ``null``.

        :raise TypeError: if both positional and keyword arguments are given.
        """
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(  # type: ignore[no-any-return]
            self.response_bytes(obj), mimetype="application/json"
        )


class _Encoders:
    """The serializers a :class:`DefaultJSONProvider` prepared for its settings."""

    __slots__ = (
        "c_compact",
        "c_plain",
        "compact",
        "generic",
        "orjson_compact",
        "orjson_pretty",
        "plain",
        "pretty",
    )

    def __init__(self) -> None:
        #: True when a subclass or the instance replaced ``dumps``: output must
        #: then come from that method.
        self.generic = False
        #: C encoders without circular checks (``obj, 0 -> chunks``), or None.
        self.c_plain: Any = None
        self.c_compact: Any = None
        #: Complete ``obj -> str`` serializers, circular checks included.
        self.plain: Callable[[Any], str] = str
        self.compact: Callable[[Any], str] = str
        self.pretty: Callable[[Any], str] = str
        #: orjson option bit sets, or None when orjson must not be used.
        self.orjson_compact: int | None = None
        self.orjson_pretty: int | None = None


class DefaultJSONProvider(JSONProvider):
    """Provide JSON through the standard library, with Flask's extra types.

    Beyond plain JSON types it serializes :class:`datetime.date` and
    :class:`~datetime.datetime` as HTTP dates (RFC 822 style), :class:`uuid.UUID`
    and :class:`decimal.Decimal` as strings, dataclass instances as dicts, and
    objects with an ``__html__`` method (:class:`markupsafe.Markup`) as the text
    that method returns.

    Set the attributes on a subclass or on ``app.json``::

        app.json.sort_keys = False
        app.json.compact = True
    """

    #: Called with any value the encoder does not know; returns a JSON-able
    #: value or raises :class:`TypeError`.
    default: Callable[[Any], Any] = staticmethod(_default)  # type: ignore[assignment]
    #: Escape non-ASCII text as ``\\uXXXX``; turn off for smaller output.
    ensure_ascii = True
    #: Sort dict keys (they must all be strings then).
    sort_keys = True
    #: Layout of :meth:`response` bodies: ``True`` compact, ``False`` indented,
    #: ``None`` indented in debug mode only.
    compact: bool | None = None
    #: The mimetype of :meth:`response`.
    mimetype = "application/json"

    _erlen_enc: _Encoders | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # Serializers are prepared from the settings once; any attribute change
        # (``app.json.sort_keys = False``) drops them so the next call rebuilds.
        object.__setattr__(self, name, value)
        self.__dict__["_erlen_enc"] = None

    def _erlen_build(self) -> _Encoders:
        """Prepare the serializers for the current settings and cache them."""
        enc = _Encoders()
        default = self.default
        ensure_ascii = self.ensure_ascii
        sort_keys = self.sort_keys
        enc.generic = (
            type(self).dumps is not DefaultJSONProvider.dumps
            or "dumps" in self.__dict__
        )
        enc.plain = JSONEncoder(
            default=default, ensure_ascii=ensure_ascii, sort_keys=sort_keys
        ).encode
        enc.compact = JSONEncoder(
            default=default,
            ensure_ascii=ensure_ascii,
            sort_keys=sort_keys,
            separators=_COMPACT,
        ).encode
        if enc.generic:
            enc.pretty = partial(self.dumps, indent=2)
        else:
            enc.pretty = JSONEncoder(
                default=default,
                ensure_ascii=ensure_ascii,
                sort_keys=sort_keys,
                indent=2,
            ).encode
        if _c_make_encoder is not None:
            # PERF: json.dumps() builds a JSONEncoder, closures and a C encoder on
            # every call; building the C encoder once saves ~1.5 us per response.
            # It runs without a circular-reference table (shared tables are not
            # thread-safe): a cycle then ends in RecursionError, and the caller
            # re-runs the checked encoder to raise exactly what json.dumps raises.
            escape = _escape_ascii if ensure_ascii else _escape
            enc.c_plain = _c_make_encoder(
                None, default, escape, None, ": ", ", ", sort_keys, False, True
            )
            enc.c_compact = _c_make_encoder(
                None, default, escape, None, ":", ",", sort_keys, False, True
            )
        self.__dict__["_erlen_enc"] = enc
        return enc

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize ``obj`` to a JSON string with :func:`json.dumps`.

        ``default``, ``ensure_ascii`` and ``sort_keys`` default to the
        provider's attributes; other keyword arguments go to :func:`json.dumps`.
        """
        if not kwargs or kwargs == _COMPACT_KWARGS:
            # PERF: the two calls erlen makes itself (plain, and compact for the
            # session serializer) reuse the prepared encoders.
            enc = self._erlen_enc or self._erlen_build()
            if kwargs:
                c_enc, full = enc.c_compact, enc.compact
            else:
                c_enc, full = enc.c_plain, enc.plain
            if c_enc is not None:
                try:
                    return "".join(c_enc(obj, 0))
                except RecursionError:
                    pass
            return full(obj)
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return json.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s`` with :func:`json.loads`; bytes may be UTF-8, -16 or -32.

        :raise ValueError: (a :class:`json.JSONDecodeError`) for malformed
            input, including input nested too deeply to parse.
        """
        try:
            return json.loads(s, **kwargs)
        except RecursionError:
            raise _nesting_error(s) from None

    def response_bytes(self, obj: Any) -> bytes:
        """Return the body :meth:`response` sends for ``obj``, newline included.

        Indented (two spaces) when :attr:`compact` is ``False``, or ``None`` in
        debug mode; otherwise without any whitespace.
        """
        enc = self._erlen_enc or self._erlen_build()
        compact = self.compact
        pretty = self._app.debug if compact is None else compact is False
        if pretty:
            return (enc.pretty(obj) + "\n").encode()
        if enc.generic:
            return (self.dumps(obj, separators=_COMPACT) + "\n").encode()
        c_enc = enc.c_compact
        if c_enc is not None:
            try:
                return ("".join(c_enc(obj, 0)) + "\n").encode()
            except RecursionError:
                pass
        return (enc.compact(obj) + "\n").encode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """Serialize the arguments to JSON and return a response with it.

        The mimetype is :attr:`mimetype`; the body is what
        :meth:`response_bytes` gives. One positional argument is serialized as
        is, several as a list, keyword arguments as a dict, nothing as ``null``.

        :raise TypeError: if both positional and keyword arguments are given.
        """
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(  # type: ignore[no-any-return]
            self.response_bytes(obj), mimetype=self.mimetype
        )


_COMPACT_KWARGS = {"separators": _COMPACT}

# orjson writes floats below 1e-4 differently from Python's repr: "0.00001"
# for 1e-05, and one-digit exponents ("1e-7" for 1e-07). Output containing such
# text is re-encoded by the standard library.
_SHORT_EXPONENT = re.compile(r"[0-9]e-[0-9](?![0-9])")
# Integers outside 64 bits come back from orjson.loads as floats; any run of 19
# digits sends the document to the standard library instead.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * 19
_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


def _only_finite(obj: Any) -> bool:
    """Return whether ``obj`` is plain JSON data without NaN or infinities.

    orjson writes NaN and infinities as ``null`` where the standard library
    writes ``NaN``/``Infinity``; output containing ``null`` is trusted only
    after this check. Any type other than exact dict/list/tuple/str/int/
    bool/None/float counts as "not known to be finite", which is safe.
    """
    # PERF: walking is ~3x cheaper than re-encoding with the standard library
    # (0.14 us for a two-key dict, 39 us for 100 four-key dicts).
    tp = type(obj)
    if tp is dict:
        items: Any = obj.values()
    elif tp is list or tp is tuple:
        items = obj
    elif tp is float:
        return obj - obj == 0.0  # inf - inf and nan - nan are nan
    else:
        return tp in _PLAIN_SCALARS
    for item in items:
        tp = type(item)
        if tp in _PLAIN_SCALARS:
            continue
        if tp is float:
            if item - item != 0.0:
                return False
        elif not _only_finite(item):
            return False
    return True


class OrjsonProvider(DefaultJSONProvider):
    """Provide JSON through :mod:`orjson`, byte-identical to the default provider.

    :meth:`response_bytes` (hence :meth:`response`, ``jsonify`` and dict/list
    return values) and :meth:`loads` use orjson. Wherever orjson's result could
    differ from the standard library's, the work is handed to the standard
    library, so bodies and parsed values are exactly the default provider's.
    That happens for: non-ASCII text while :attr:`ensure_ascii` is on, NaN and
    infinities, floats below 1e-4, integers beyond 64 bits, non-string keys,
    nesting deeper than 254 levels, and any type orjson rejects. A custom
    :attr:`default` or ``dumps`` turns orjson off for output, because orjson
    encodes some types (UUID, enum) without asking ``default``. :meth:`dumps`
    itself stays on the standard library (its default layout has spaces, which
    orjson cannot produce).

    The one known difference: orjson encodes :class:`enum.Enum` members as their
    value where the standard library raises :class:`TypeError`.

    :raise RuntimeError: at construction when orjson is not installed.
    """

    def __init__(self, app: Any) -> None:
        if _orjson is None:
            raise RuntimeError(
                "OrjsonProvider needs the 'orjson' package; install it"
                " ('pip install orjson') or use DefaultJSONProvider."
            )
        super().__init__(app)

    def _erlen_build(self) -> _Encoders:
        enc = super()._erlen_build()
        if not enc.generic and self.default is _default:
            options = (
                _orjson.OPT_APPEND_NEWLINE
                | _orjson.OPT_PASSTHROUGH_DATETIME
                | _orjson.OPT_PASSTHROUGH_DATACLASS
            )
            if self.sort_keys:
                options |= _orjson.OPT_SORT_KEYS
            enc.orjson_compact = options
            enc.orjson_pretty = options | _orjson.OPT_INDENT_2
        return enc

    def response_bytes(self, obj: Any) -> bytes:
        enc = self._erlen_enc or self._erlen_build()
        compact = self.compact
        pretty = self._app.debug if compact is None else compact is False
        options = enc.orjson_pretty if pretty else enc.orjson_compact
        if options is None:
            return DefaultJSONProvider.response_bytes(self, obj)
        try:
            out = _orjson.dumps(obj, _default, options)
        except TypeError:  # orjson.JSONEncodeError: a type or value it rejects
            return DefaultJSONProvider.response_bytes(self, obj)
        escape_del = False
        if self.ensure_ascii:
            if not out.isascii():
                return DefaultJSONProvider.response_bytes(self, obj)
            escape_del = True
        # PERF: latin-1 maps bytes 1:1 to a str, where substring tests are
        # several times cheaper than on bytes.
        text = out.decode("latin-1")
        if (
            "0.0000" in text
            or ("e-" in text and _SHORT_EXPONENT.search(text) is not None)
            or ("null" in text and not _only_finite(obj))
        ):
            return DefaultJSONProvider.response_bytes(self, obj)
        if escape_del and "\x7f" in text:
            # The stdlib escapes DEL when ensure_ascii is on; orjson does not.
            # DEL can only occur inside strings, so a plain replace is exact.
            out = out.replace(b"\x7f", b"\\u007f")
        return out

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s`` with orjson, or :func:`json.loads` where they could differ.

        :raise ValueError: for malformed input, as :meth:`DefaultJSONProvider.loads`.
        """
        if not kwargs:
            tp = type(s)
            if tp is bytes or tp is str:
                data: bytes = (
                    s.encode("utf-8", "surrogatepass") if tp is str else s  # type: ignore[union-attr,assignment]
                )
                if data.translate(_DIGITS_TO_ZERO).find(_LONG_DIGIT_RUN) < 0:
                    try:
                        return _orjson.loads(data)
                    except _orjson.JSONDecodeError:
                        pass  # the stdlib decides: it accepts more, or raises
        return DefaultJSONProvider.loads(self, s, **kwargs)


def default_provider_class() -> type[DefaultJSONProvider]:
    """Return :class:`OrjsonProvider` when orjson is installed, else
    :class:`DefaultJSONProvider`."""
    return DefaultJSONProvider if _orjson is None else OrjsonProvider
