"""The HTTP response object, :class:`Response`, and its wire form.

:class:`Response` behaves like Flask 3.1's ``flask.Response`` (Werkzeug's response
plus Flask's JSON and cookie-size bits) but is built for erlen's hot path: the
``Headers`` object is created only when someone asks for it, and the adapters take
the status line and a validated header list straight from :attr:`Response.status_line`
and :meth:`Response.wire_headers` (or :meth:`Response.asgi_headers`). Every header
name and value is checked once, there (BAD_INPUTS 25, 26).

The typed header properties (dates, ``Cache-Control``, CORS, CSP, ETags...) live
in :mod:`erlen.wrappers._response_headers` as a mixin of :class:`Response`, and the
conditional/range request logic in :mod:`erlen.wrappers._conditional`; both are
private, and the names this module held before the split are still importable
from here.

Imports :mod:`erlen.globals` (``MAX_COOKIE_SIZE`` of the current app),
:mod:`erlen.json` when present, :mod:`erlen.typing` and its private siblings
:mod:`erlen.wrappers._response_headers` and :mod:`erlen.wrappers._conditional`;
nothing else from erlen. Uses Werkzeug's ``datastructures``, ``http``,
``urls.iri_to_uri``, ``utils``, ``wsgi`` and ``test`` helpers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin

from werkzeug import http as wh
from werkzeug.datastructures import CallbackDict
from werkzeug.datastructures import Headers as _WzHeaders
from werkzeug.urls import iri_to_uri
from werkzeug.utils import get_content_type

from ..globals import _cv_ctx
from ..typing import StartResponse, WSGIApplication, WSGIEnvironment

# The ``noqa: F401`` names lived in this module before it was split; they are
# re-exported so that existing imports keep working.
from ._conditional import MAX_RANGE_HEADER as _MAX_RANGE_HEADER  # noqa: F401
from ._conditional import evaluate_preconditions as _evaluate_preconditions  # noqa: F401
from ._conditional import if_range_matches as _if_range_matches  # noqa: F401
from ._conditional import iter_range as _iter_range  # noqa: F401
from ._conditional import make_conditional as _make_conditional
from ._conditional import request_view as _request_view  # noqa: F401
from ._response_headers import (  # noqa: F401
    ResponseHeadersMixin,
    _HeaderProp,
    _ObjectHeaderProp,
    _retry_after_dump,
    _retry_after_load,
    _SetHeaderProp,
)
from .headers import Headers

try:  # Flask's Response.json_module is flask.json; erlen's twin is erlen.json.
    from .. import json as _json_module
except ImportError:  # pragma: no cover - erlen.json is part of the package
    import json as _json_module

__all__ = ["Response"]

# -- Status ---------------------------------------------------------------------
# PERF: "404 NOT FOUND" for every known code, so an int status is one dict lookup.
_STATUS_LINES: dict[int, str] = {
    code: f"{code} {reason.upper()}" for code, reason in wh.HTTP_STATUS_CODES.items()
}
# RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ).
_BAD_REASON_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f\u0100-\U0010ffff]")


def _parse_status(value: int | str | HTTPStatus) -> tuple[str, int]:
    """Return ``(status_line, status_code)`` for an int or ``"404 Not Found"``."""
    if isinstance(value, int):
        code = int(value)
        line = _STATUS_LINES.get(code)
        if line is not None:
            return line, code
        if not 100 <= code <= 999:
            raise ValueError(
                f"Invalid status code {code}: an HTTP status code has three digits"
                " (100-999)."
            )
        return f"{code} UNKNOWN", code
    if not isinstance(value, str):
        raise TypeError(
            f"Invalid status argument: expected an int or a str like '404 Not Found',"
            f" got {type(value).__name__}."
        )
    value = value.strip()
    if not value:
        raise ValueError("Empty status argument")
    code_str, sep, reason = value.partition(" ")
    # int() accepts non-ASCII digits and signs; a status line does not.
    if len(code_str) != 3 or not (code_str.isascii() and code_str.isdigit()):
        raise ValueError(
            "Invalid status: it must start with a three-digit code, as in"
            " '404 Not Found' (got a string without one)."
        )
    code = int(code_str)
    if not sep:
        return _parse_status(code)
    if code < 100:
        raise ValueError(f"Invalid status code {code}: it must be 100-999.")
    if _BAD_REASON_RE.search(reason) is not None:  # BAD_INPUTS 25
        raise ValueError(
            "Invalid status reason phrase: it contains a control character (CR, LF,"
            " NUL...) or a character outside latin-1."
        )
    return value, code


# -- Header names and values ----------------------------------------------------
# RFC 9110 §5.6.2: field-name = token.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# What may never reach the wire in a field value (BAD_INPUTS 25, 26): CR, LF, NUL
# (response splitting) and anything a latin-1 encoder cannot write.
_BAD_VALUE_RE = re.compile("[\x00\r\n\u0100-\U0010ffff]")
_CRLF_NUL_RE = re.compile("[\x00\r\n]")

_F_LENGTH = 1  # Content-Length: dropped for 1xx, 204, 304
_F_ENTITY = 2  # content headers Werkzeug drops from a 304
_F_URI = 4  # IRI -> URI conversion, as Werkzeug does on the way out
_F_LOCATION = 8  # subject to autocorrect_location_header
_FLAGS_BY_LOWER = {
    "content-length": _F_LENGTH | _F_ENTITY,
    "allow": _F_ENTITY,
    "content-encoding": _F_ENTITY,
    "content-language": _F_ENTITY,
    "content-md5": _F_ENTITY,
    "content-range": _F_ENTITY,
    "content-type": _F_ENTITY,
    "last-modified": _F_ENTITY,
    "location": _F_URI | _F_LOCATION,
    "content-location": _F_URI,
}
# PERF: names already validated -> flags, and -> lowercase bytes for ASGI. A name
# is checked once per process, not once per response. Bounded: names usually come
# from code, but an app may echo names it was sent.
_NAME_CACHE_MAX = 1024
_NAME_FLAGS: dict[str, int] = {"Content-Type": _F_ENTITY, "Content-Length": 3}
_NAME_BYTES: dict[str, bytes] = {
    "Content-Type": b"content-type",
    "Content-Length": b"content-length",
}


def _learn_name(name: Any) -> int:
    """Validate a header name, cache it, and return its wire flags."""
    if type(name) is not str or _TOKEN_RE.fullmatch(name) is None:
        raise ValueError(
            f"Invalid header name {str(name)[:64]!r}: a header name must be a"
            " non-empty token (no spaces, ':', control or non-ASCII characters)."
        )
    lower = name.lower()
    flags = _FLAGS_BY_LOWER.get(lower, 0)
    if len(_NAME_FLAGS) < _NAME_CACHE_MAX:
        _NAME_FLAGS[name] = flags
        _NAME_BYTES[name] = lower.encode("ascii")
    return flags


def _value_error(name: str, value: Any) -> ValueError:
    """Build the error for a bad value of header ``name``; never echo the value."""
    if not isinstance(value, str):
        why = f"must be a str, not {type(value).__name__}"
    elif _CRLF_NUL_RE.search(value) is not None:
        why = "contains CR, LF or NUL"
    else:
        why = "contains characters that are not latin-1 encodable"
    return ValueError(f"Invalid value for header {name!r}: it {why}.")


def _check_value(name: str, value: Any) -> str:
    """Return ``value`` if it may be sent as header ``name``, else raise ValueError."""
    if type(value) is not str or _BAD_VALUE_RE.search(value) is not None:
        raise _value_error(name, value)
    return value


def _raise_bad_header(pairs: Iterable[tuple[Any, Any]]) -> None:
    """Find the header that failed the batch check and raise a ValueError for it."""
    for name, value in pairs:
        if not (type(name) is str and name in _NAME_FLAGS):
            _learn_name(name)
        _check_value(name, value)
    raise ValueError("Invalid response headers.")  # pragma: no cover - unreachable


# PERF: mimetype -> validated content type ("text/html" -> "...; charset=utf-8").
_CT_CACHE_MAX = 256
_CT_CACHE: dict[str, str] = {}


def _content_type_for(mimetype: str) -> str:
    """Return the checked Content-Type for ``mimetype`` (charset added as Werkzeug)."""
    ct = _check_value("Content-Type", get_content_type(mimetype, "utf-8"))
    if len(_CT_CACHE) < _CT_CACHE_MAX:
        _CT_CACHE[mimetype] = ct
    return ct


# -- Cookies --------------------------------------------------------------------
# RFC 6265 §4.1.1: a cookie-name is a token; dump_cookie passes these through
# untouched, and they would split the header or inject attributes.
_BAD_COOKIE_KEY_RE = re.compile('[\x00-\x20\x7f;,="\\\\]')
_BAD_COOKIE_ATTR_RE = re.compile("[\x00-\x1f\x7f;]")


# -- Body helpers ---------------------------------------------------------------
def _iter_encoded(iterable: Iterable[str | bytes]) -> Iterator[bytes]:
    for item in iterable:
        yield item.encode() if isinstance(item, str) else item


class _ClosingBody:
    """A WSGI app_iter that calls the response's ``close()`` when the server does."""

    __slots__ = ("_close", "_iterator")

    def __init__(self, iterable: Iterable[bytes], close: Callable[[], None]) -> None:
        self._iterator = iter(iterable)
        self._close = close

    def __iter__(self) -> Iterator[bytes]:
        # PERF: the server iterates the inner iterator directly; close() stays ours.
        return self._iterator

    def close(self) -> None:
        self._close()


# -- The response ---------------------------------------------------------------
class Response(ResponseHeadersMixin):
    """An HTTP response: status, headers and a body iterable.

    Mirrors ``flask.Response``: ``response`` may be ``str``/``bytes`` (stored as a
    one-item list, Content-Length set) or any iterable of ``str``/``bytes``, which
    is streamed lazily (``str`` chunks are encoded as UTF-8). ``status`` is an int
    or a string like ``"404 Not Found"``. ``headers`` is a
    :class:`~werkzeug.datastructures.Headers`, a mapping or a list of pairs.

    >>> r = Response("hello", 201, {"X-Token": "a"}, mimetype="text/plain")
    >>> r.status, r.status_line, r.wire_headers()[0]
    ('201 CREATED', '201 CREATED', ('X-Token', 'a'))
    """

    #: Status used when none is given.
    default_status = 200
    #: Mimetype used when neither ``mimetype`` nor ``content_type`` is given.
    default_mimetype: str | None = "text/html"
    #: The body encoding; always UTF-8 (not configurable, as in Werkzeug 3).
    charset = "utf-8"
    #: Join a relative Location with the request URL (off, as in Flask).
    autocorrect_location_header = False
    #: Set Content-Length for bodies of known length.
    automatically_set_content_length = True
    #: Turn a streamed body into a list when its data is needed.
    implicit_sequence_conversion = True
    #: Module whose ``loads`` :meth:`get_json` uses.
    json_module: Any = _json_module

    response: Any

    def __init__(
        self,
        response: Iterable[str] | Iterable[bytes] | str | bytes | None = None,
        status: int | str | HTTPStatus | None = None,
        headers: Headers | Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
        direct_passthrough: bool = False,
    ) -> None:
        self.direct_passthrough = direct_passthrough
        self._on_close: list[Callable[[], Any]] = []
        self._cl: str | None = None  # Content-Length while headers are lazy
        if status is None:
            status = self.default_status
        # PERF: a plain known int status costs no call.
        if type(status) is int and status in _STATUS_LINES:
            self._status = _STATUS_LINES[status]
            self._status_code = status
        else:
            self._status, self._status_code = _parse_status(status)
        # PERF: without headers, the Headers object is only built on first access;
        # until then Content-Type/Length live in _ct/_cl (already validated).
        self._headers: Headers | None = None
        if headers is None:
            if content_type is None:
                if mimetype is None:
                    mimetype = self.default_mimetype
                if mimetype is None:
                    self._ct: str | None = None
                else:
                    try:
                        self._ct = _CT_CACHE[mimetype]
                    except KeyError:
                        self._ct = _content_type_for(mimetype)
            else:
                self._ct = _check_value("Content-Type", content_type)
        else:
            self._ct = None
            self._headers = h = (
                headers if isinstance(headers, _WzHeaders) else Headers(headers)
            )
            if content_type is None:
                if mimetype is None and "content-type" not in h:
                    mimetype = self.default_mimetype
                if mimetype is not None:
                    content_type = get_content_type(mimetype, "utf-8")
            if content_type is not None:
                h["Content-Type"] = content_type
        kind = type(response)
        if response is None:
            self.response = []
        elif (kind is str or kind is bytes) and type(self).set_data is _base_set_data:
            # PERF: set_data inlined for the commonest body.
            data = response.encode() if kind is str else response
            self.response = [data]
            if self.automatically_set_content_length:
                if self._headers is None:
                    self._cl = str(len(data))
                else:
                    self._headers["Content-Length"] = str(len(data))
        elif isinstance(response, (str, bytes, bytearray)):
            self.set_data(response)
        else:
            self.response = response

    def __repr__(self) -> str:
        if self.is_sequence:
            body = f"{sum(map(len, self.iter_encoded()))} bytes"
        else:
            body = "streamed" if self.is_streamed else "likely-streamed"
        return f"<{type(self).__name__} {body} [{self._status}]>"

    # -- Headers ------------------------------------------------------------------
    @property
    def headers(self) -> Headers:
        """The response headers, a :class:`~werkzeug.datastructures.Headers`."""
        h = self._headers
        if h is None:
            h = self._headers = Headers()
            # PERF: _ct/_cl are validated already; append without add()'s checks.
            if self._ct is not None:
                h._list.append(("Content-Type", self._ct))
            if self._cl is not None:
                h._list.append(("Content-Length", self._cl))
        return h

    @headers.setter
    def headers(
        self, value: Headers | Mapping[str, Any] | Iterable[tuple[str, Any]]
    ) -> None:
        self._headers = value if isinstance(value, _WzHeaders) else Headers(value)

    # -- Status -------------------------------------------------------------------
    @property
    def status(self) -> str:
        """The status as a string, ``"404 NOT FOUND"``; settable as int or str."""
        return self._status

    @status.setter
    def status(self, value: int | str | HTTPStatus) -> None:
        self._status, self._status_code = _parse_status(value)

    @property
    def status_code(self) -> int:
        """The status as an int; settable."""
        return self._status_code

    @status_code.setter
    def status_code(self, code: int) -> None:
        self._status, self._status_code = _parse_status(code)

    @property
    def status_line(self) -> str:
        """The WSGI status line, ``"200 OK"`` (validated when the status was set)."""
        return self._status

    # -- The wire form --------------------------------------------------------------
    def wire_headers(self, base_url: str | None = None) -> list[tuple[str, str]]:
        """Return the header list to send, every name and value validated.

        Content-Length is added for a body of known length when not set, and
        dropped for 1xx/204; a 304 drops the content headers (as Werkzeug does).
        Location and Content-Location are converted from IRI to URI; with
        :attr:`autocorrect_location_header`, a relative Location is joined with
        ``base_url`` (the request URL without query) when one is given.

        :raise ValueError: a header name is not a token, or a value contains CR,
            LF, NUL or a character outside latin-1. The message names the header.
        """
        code = self._status_code
        # RFC 9110 §8.6 / §15.4.5: no Content-Length on 1xx/204, no content on 304.
        bodiless = code < 200 or code == 204 or code == 304
        headers = self._headers
        if headers is None:
            # PERF: lazy headers hold only our own, already validated values.
            ct = self._ct
            if bodiless:
                return [] if ct is None or code == 304 else [("Content-Type", ct)]
            cl = self._cl
            if cl is None:
                cl = self._auto_length()
            if ct is None:
                return [] if cl is None else [("Content-Length", cl)]
            if cl is None:
                return [("Content-Type", ct)]
            return [("Content-Type", ct), ("Content-Length", cl)]
        drop = (_F_ENTITY if code == 304 else _F_LENGTH) if bodiless else 0
        out: list[tuple[str, str]] = []
        values = ""
        has_length = False
        try:
            for name, value in headers:
                try:
                    flags = _NAME_FLAGS[name]
                except KeyError:
                    flags = _learn_name(name)
                if flags:
                    if flags & drop:
                        continue
                    if flags & _F_LENGTH:
                        has_length = True
                    if flags & _F_URI:
                        value = self._wire_uri(name, value, flags, base_url)
                # PERF: one regex over all values instead of one call per header.
                values += value
                out += ((name, value),)  # PERF: no traced call, unlike out.append
        except TypeError:
            _raise_bad_header(headers)
        if _BAD_VALUE_RE.search(values) is not None:
            _raise_bad_header(out)
        if not (has_length or bodiless):
            cl = self._auto_length()
            if cl is not None:
                out += (("Content-Length", cl),)
        return out

    def asgi_headers(self, base_url: str | None = None) -> list[tuple[bytes, bytes]]:
        """Return :meth:`wire_headers` as ASGI wants it: lowercase latin-1 bytes."""
        out: list[tuple[bytes, bytes]] = []
        for name, value in self.wire_headers(base_url):
            try:
                raw = _NAME_BYTES[name]
            except KeyError:
                raw = name.lower().encode("ascii")
            out += ((raw, value.encode("latin-1")),)
        return out

    def _wire_uri(self, name: str, value: str, flags: int, base_url: str | None) -> str:
        if _CRLF_NUL_RE.search(value) is not None:
            raise _value_error(name, value)
        value = iri_to_uri(value)
        if (
            flags & _F_LOCATION
            and base_url is not None
            and self.autocorrect_location_header
        ):
            value = urljoin(iri_to_uri(base_url), value)
        return value

    def _auto_length(self) -> str | None:
        """Content-Length of a sequence body, or None if unknown or not wanted."""
        body = self.response
        if not (
            self.automatically_set_content_length and isinstance(body, (list, tuple))
        ):
            return None
        total = 0
        for item in body:
            total += len(item.encode() if isinstance(item, str) else item)
        return str(total)

    # -- Content type ---------------------------------------------------------------
    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header."""
        return self._ct if self._headers is None else self._headers.get("Content-Type")

    @content_type.setter
    def content_type(self, value: str | None) -> None:
        if value is None:
            self.headers.pop("Content-Type", None)
        else:
            self.headers["Content-Type"] = _check_value("Content-Type", value)

    @property
    def mimetype(self) -> str | None:
        """The mimetype, Content-Type without parameters; setting adds the charset."""
        ct = self.content_type
        return ct.partition(";")[0].strip() if ct else None

    @mimetype.setter
    def mimetype(self, value: str) -> None:
        self.headers["Content-Type"] = _content_type_for(value)

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The Content-Type parameters as a dict; changing it rewrites the header."""

        def on_update(d: CallbackDict[str, str]) -> None:
            self.headers["Content-Type"] = wh.dump_options_header(self.mimetype, d)

        d = wh.parse_options_header(self.content_type or "")[1]
        return CallbackDict(d, on_update)

    @property
    def is_json(self) -> bool:
        """Whether the mimetype is ``application/json`` or ``application/*+json``."""
        mt = self.mimetype
        return mt is not None and (
            mt == "application/json"
            or (mt.startswith("application/") and mt.endswith("+json"))
        )

    @property
    def content_length(self) -> int | None:
        """The ``Content-Length`` header as an int."""
        value = (
            self._cl if self._headers is None else self._headers.get("Content-Length")
        )
        try:
            return None if value is None else int(value)
        except ValueError:
            return None

    @content_length.setter
    def content_length(self, value: int | str | None) -> None:
        if value is None:
            self.headers.pop("Content-Length", None)
        else:
            self.headers["Content-Length"] = str(value)

    @property
    def location(self) -> str | None:
        """The ``Location`` header; CR, LF and NUL are refused (BAD_INPUTS 25)."""
        return self.headers.get("Location")

    @location.setter
    def location(self, value: str | None) -> None:
        if value is None:
            self.headers.pop("Location", None)
        elif type(value) is not str or _CRLF_NUL_RE.search(value) is not None:
            raise _value_error("Location", value)
        else:
            self.headers["Location"] = value

    # -- Cookies --------------------------------------------------------------------
    @property
    def max_cookie_size(self) -> int:
        """Warn above this cookie size: the app's ``MAX_COOKIE_SIZE``, else 4093."""
        try:
            return int(_cv_ctx.get().app.config["MAX_COOKIE_SIZE"])
        except (LookupError, AttributeError):
            return 4093

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: Any = None,
        expires: Any = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header (Werkzeug's ``dump_cookie``).

        Warns (as Werkzeug does) when the header exceeds :attr:`max_cookie_size`.

        :raise ValueError: ``key`` is not a cookie token, or ``domain``,
            ``expires`` or ``max_age`` given as text contain ``;`` or control
            characters (BAD_INPUTS 25).
        """
        if type(key) is not str or not key or _BAD_COOKIE_KEY_RE.search(key):
            raise ValueError(
                f"Invalid cookie name {str(key)[:64]!r}: it must be a non-empty token"
                ' (no spaces, control characters or any of ;,="\\).'
            )
        for attr, attr_value in (
            ("domain", domain),
            ("expires", expires),
            ("max_age", max_age),
        ):
            if isinstance(attr_value, str) and _BAD_COOKIE_ATTR_RE.search(attr_value):
                raise ValueError(
                    f"Invalid cookie {attr} for {key!r}: it contains ';' or a control"
                    " character."
                )
        header = wh.dump_cookie(
            key,
            value=value,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            max_size=self.max_cookie_size,
            samesite=samesite,
            partitioned=partitioned,
        )
        self.headers.add("Set-Cookie", _check_value("Set-Cookie", header))

    def delete_cookie(
        self,
        key: str,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        """Expire cookie ``key`` (same ``path``/``domain`` as when it was set)."""
        self.set_cookie(
            key,
            expires=0,
            max_age=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )

    # -- Body -----------------------------------------------------------------------
    def get_data(self, as_text: bool = False) -> Any:
        """Return the body as bytes (``str`` if ``as_text``), buffering a stream."""
        self._ensure_sequence()
        rv = b"".join(self.iter_encoded())
        return rv.decode() if as_text else rv

    def set_data(self, value: str | bytes) -> None:
        """Replace the body with ``value`` (UTF-8 encoded) and set Content-Length."""
        if isinstance(value, str):
            value = value.encode()
        self.response = [value]
        if self.automatically_set_content_length:
            if self._headers is None:
                self._cl = str(len(value))
            else:
                self._headers["Content-Length"] = str(len(value))

    data = property(get_data, set_data, doc="The body as bytes; see :meth:`get_data`.")

    @property
    def json(self) -> Any:
        """The body parsed as JSON if the mimetype is JSON, else None."""
        return self.get_json()

    def get_json(self, force: bool = False, silent: bool = False) -> Any:
        """Parse the body as JSON (for tests); None unless JSON or ``force``.

        :raise ValueError: invalid JSON, unless ``silent``.
        """
        if not (force or self.is_json):
            return None
        data = self.get_data()
        try:
            return self.json_module.loads(data)
        except ValueError:
            if not silent:
                raise
            return None

    def iter_encoded(self) -> Iterator[bytes]:
        """Iterate the body as bytes, lazily (``str`` chunks encoded as UTF-8)."""
        return _iter_encoded(self.response)

    @property
    def is_sequence(self) -> bool:
        """Whether the body is a list or tuple (its length is known)."""
        return isinstance(self.response, (list, tuple))

    @property
    def is_streamed(self) -> bool:
        """Whether the body has no length (a generator or other iterator)."""
        try:
            len(self.response)
        except (TypeError, AttributeError):
            return True
        return False

    def make_sequence(self) -> None:
        """Buffer a streamed body into a list (its ``close`` runs on :meth:`close`)."""
        if not self.is_sequence:
            close = getattr(self.response, "close", None)
            self.response = list(self.iter_encoded())
            if close is not None:
                self.call_on_close(close)

    def _ensure_sequence(self, mutable: bool = False) -> None:
        if self.is_sequence:
            if mutable and not isinstance(self.response, list):
                self.response = list(self.response)
            return
        if self.direct_passthrough:
            raise RuntimeError(
                "Attempted implicit sequence conversion but the response object is in"
                " direct passthrough mode."
            )
        if not self.implicit_sequence_conversion:
            raise RuntimeError(
                "The response body must be a sequence but implicit conversion is"
                " disabled; call make_sequence() first."
            )
        self.make_sequence()

    def calculate_content_length(self) -> int | None:
        """Return the body length, or None if it is streamed and cannot be buffered."""
        try:
            self._ensure_sequence()
        except RuntimeError:
            return None
        return sum(len(x) for x in self.iter_encoded())

    def freeze(self) -> None:
        """Buffer the body, and set Content-Length and an ETag."""
        self.make_sequence()
        self.response = list(self.iter_encoded())
        self.headers["Content-Length"] = str(sum(map(len, self.response)))
        self.add_etag()

    # -- Closing --------------------------------------------------------------------
    def call_on_close(self, func: Callable[[], Any]) -> Callable[[], Any]:
        """Register ``func`` to run when the response is closed; returns it."""
        self._on_close.append(func)
        return func

    def close(self) -> None:
        """Close the body iterable, then run the :meth:`call_on_close` functions.

        All of them run even if one raises; the first error is re-raised.
        """
        error: BaseException | None = None
        close = getattr(self.response, "close", None)
        if close is not None:
            try:
                close()
            except BaseException as e:  # run the callbacks anyway
                error = e
        for func in self._on_close:
            try:
                func()
            except BaseException as e:
                error = error or e
        if error is not None:
            raise error

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- Conditional and range requests ----------------------------------------------
    def make_conditional(
        self,
        request_or_environ: Any,
        accept_ranges: bool | str = False,
        complete_length: int | None = None,
    ) -> Response:
        """Apply a GET/HEAD request's conditional headers; returns ``self``.

        Follows RFC 9110 §13.2.2 for 2xx responses: a failed If-Match or
        If-Unmodified-Since gives 412; a matching If-None-Match (weak comparison)
        or an unchanged If-Modified-Since gives 304. Otherwise a GET with a single
        satisfiable ``Range`` (and a matching ``If-Range``) on a 200 becomes 206
        with Content-Range, when ``accept_ranges`` and ``complete_length`` are
        given; the body is sliced (a body with ``seek``, like a file wrapper, is
        seeked). Multiple ranges, an unknown unit, or a Range longer than 4 KiB
        are ignored (full 200). Sets ``Date`` and ``Accept-Ranges`` (``True``
        means ``"bytes"``).

        :param request_or_environ: a WSGI environ or an object with ``.environ``.
        :raise RequestedRangeNotSatisfiable: a malformed or unsatisfiable range.
        """
        return _make_conditional(
            self, request_or_environ, accept_ranges, complete_length
        )

    # -- WSGI -----------------------------------------------------------------------
    def get_wsgi_headers(self, environ: WSGIEnvironment) -> Headers:
        """Return a new Headers of what :meth:`__call__` sends for ``environ``."""
        base = self._base_url(environ) if self.autocorrect_location_header else None
        return Headers(self.wire_headers(base))

    def _base_url(self, environ: WSGIEnvironment) -> str:
        from werkzeug.wsgi import get_current_url

        return get_current_url(environ, strip_querystring=True)

    def get_app_iter(self, environ: WSGIEnvironment) -> Iterable[bytes]:
        """Return the WSGI body: empty for HEAD, 1xx, 204 and 304; closes the body."""
        code = self._status_code
        if environ.get("REQUEST_METHOD") == "HEAD" or code < 200 or code in (204, 304):
            return _ClosingBody((), self.close)
        body = self.response
        if self.direct_passthrough:
            return _ClosingBody(body, self.close) if self._on_close else body
        # PERF: a list of bytes with nothing to close is its own app_iter.
        if type(body) is list and not self._on_close:
            for item in body:
                if type(item) is not bytes:
                    break
            else:
                return body
        return _ClosingBody(self.iter_encoded(), self.close)

    def get_wsgi_response(
        self, environ: WSGIEnvironment
    ) -> tuple[Iterable[bytes], str, list[tuple[str, str]]]:
        """Return ``(app_iter, status_line, header_list)`` for ``environ``.

        If the headers are invalid the body is closed before the error propagates.
        """
        try:
            headers = self.wire_headers(
                self._base_url(environ) if self.autocorrect_location_header else None
            )
        except BaseException:
            self.close()
            raise
        return self.get_app_iter(environ), self._status, headers

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Serve this response as a WSGI application."""
        # PERF: get_wsgi_response inlined; the WSGI adapter ends every request here.
        try:
            headers = self.wire_headers(
                self._base_url(environ) if self.autocorrect_location_header else None
            )
        except BaseException:
            self.close()
            raise
        app_iter = self.get_app_iter(environ)
        start_response(self._status, headers)
        return app_iter

    @classmethod
    def force_type(
        cls, response: Any, environ: WSGIEnvironment | None = None
    ) -> Response:
        """Return ``response`` as an instance of ``cls``; run a WSGI app if needed.

        An erlen Response has its class switched in place; any other WSGI callable
        (a Werkzeug response, an HTTPException) is run against ``environ``.
        """
        if not isinstance(response, Response):
            if environ is None:
                raise TypeError(
                    "cannot convert WSGI application into response objects without"
                    " an environ"
                )
            from werkzeug.test import run_wsgi_app

            response = Response(*run_wsgi_app(response, environ))
        response.__class__ = cls
        return response

    @classmethod
    def from_app(
        cls, app: WSGIApplication, environ: WSGIEnvironment, buffered: bool = False
    ) -> Response:
        """Run WSGI ``app`` against ``environ`` and wrap its output."""
        from werkzeug.test import run_wsgi_app

        return cls(*run_wsgi_app(app, environ, buffered))


_base_set_data = Response.set_data
