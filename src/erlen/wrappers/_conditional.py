"""Conditional and range requests (RFC 9110 §13, §14) applied to a response.

Holds :func:`make_conditional`, which :meth:`Response.make_conditional
<erlen.wrappers.response.Response.make_conditional>` calls, and the plain functions
it is made of: reading the request (:func:`request_view`), the 412/304 decision
(:func:`evaluate_preconditions`), ``If-Range`` (:func:`if_range_matches`) and the
206/416 decision that slices the body (:func:`apply_range`, :func:`iter_range`).
The decisions take header values, not a protocol, so the WSGI and ASGI drivers
share them.

Imports nothing from erlen at run time (:mod:`erlen.wrappers.response` only for
type hints). Uses Werkzeug's ``http`` and ``exceptions``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from werkzeug import http as wh
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import http_date, parse_date

if TYPE_CHECKING:
    from .response import Response

__all__ = [
    "MAX_RANGE_HEADER",
    "apply_range",
    "evaluate_preconditions",
    "if_range_matches",
    "iter_range",
    "make_conditional",
    "request_view",
]

# BAD_INPUTS 52: longer Range headers are ignored (full 200).
MAX_RANGE_HEADER = 4096


def request_view(obj: Any) -> tuple[str, Callable[[str], str | None]]:
    """Return ``(method, get)`` where ``get("HTTP_IF_MATCH")`` reads a header."""
    environ = getattr(obj, "environ", obj)
    if isinstance(environ, dict):
        return environ.get("REQUEST_METHOD", ""), environ.get
    headers = getattr(obj, "headers", None)
    method = getattr(obj, "method", None)
    if headers is None or method is None:
        raise TypeError(
            "make_conditional() needs a WSGI environ dict or a request object with"
            f" an 'environ' dict (got {type(obj).__name__})."
        )
    return method, lambda key: headers.get(key[5:].replace("_", "-"))


def make_conditional(
    response: Response,
    request_or_environ: Any,
    accept_ranges: bool | str = False,
    complete_length: int | None = None,
) -> Response:
    """Apply a GET/HEAD request's conditional headers to ``response``; return it.

    See :meth:`Response.make_conditional
    <erlen.wrappers.response.Response.make_conditional>` for the rules.

    :raise RequestedRangeNotSatisfiable: a malformed or unsatisfiable range.
    """
    method, get = request_view(request_or_environ)
    if method not in ("GET", "HEAD"):
        return response
    headers = response.headers
    if "Date" not in headers:
        headers["Date"] = http_date()
    if accept_ranges:
        response.accept_ranges = "bytes" if accept_ranges is True else accept_ranges
    if 200 <= response.status_code < 300:  # RFC 9110 §13.2.1
        etag, weak = wh.unquote_etag(headers.get("ETag"))
        last_modified = parse_date(headers.get("Last-Modified"))
        outcome = evaluate_preconditions(get, etag, weak, last_modified)
        if outcome:
            response.status_code = outcome
        elif (
            method == "GET"  # RFC 9110 §14.2: range handling is defined for GET
            and accept_ranges
            and complete_length
            and response.status_code == 200
            and get("HTTP_RANGE")
        ):
            apply_range(response, get, complete_length, etag, weak, last_modified)
    if response.automatically_set_content_length and "Content-Length" not in headers:
        length = response.calculate_content_length()
        if length is not None:
            headers["Content-Length"] = str(length)
    return response


def evaluate_preconditions(
    get: Callable[[str], Any], etag: str | None, weak: bool | None, last_modified: Any
) -> int:
    """Return 412, 304 or 0 for a GET/HEAD by RFC 9110 §13.2.2 steps 1-4."""
    if_match = get("HTTP_IF_MATCH")
    if if_match:
        # §13.1.1: strong comparison; "*" matches any current representation.
        tags = wh.parse_etags(if_match)
        if not (
            tags.star_tag or (etag is not None and not weak and tags.is_strong(etag))
        ):
            return 412
    else:
        since = get("HTTP_IF_UNMODIFIED_SINCE")  # §13.1.4
        if since and last_modified is not None:
            date = parse_date(since)
            if date is not None and last_modified > date:
                return 412
    if_none_match = get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        # §13.1.2: weak comparison.
        tags = wh.parse_etags(if_none_match)
        if tags.star_tag or (etag is not None and tags.contains_weak(etag)):
            return 304
    else:
        since = get("HTTP_IF_MODIFIED_SINCE")  # §13.1.3, ignored with If-None-Match
        if since and last_modified is not None:
            date = parse_date(since)
            if date is not None and last_modified <= date:
                return 304
    return 0


def if_range_matches(value: str, etag: Any, weak: Any, last_modified: Any) -> bool:
    """RFC 9110 §13.1.5: strong ETag comparison, or an exact Last-Modified date."""
    value = value.strip()
    if value.startswith(('"', "W/", "w/")):
        tag, tag_weak = wh.unquote_etag(value)
        return not (tag_weak or weak) and etag is not None and tag == etag
    date = parse_date(value)
    return date is not None and date == last_modified


def apply_range(
    response: Response,
    get: Callable[[str], Any],
    length: int,
    etag: Any,
    weak: Any,
    last_modified: Any,
) -> None:
    """Turn ``response`` into a 206 for the request's single byte range.

    Leaves it whole when If-Range does not match, the header is too long, the
    unit is not ``bytes`` or several ranges are asked for.

    :raise RequestedRangeNotSatisfiable: a malformed or unsatisfiable range.
    """
    value: str = get("HTTP_RANGE")
    if_range = get("HTTP_IF_RANGE")
    if if_range and not if_range_matches(if_range, etag, weak, last_modified):
        return  # RFC 9110 §13.1.5: representation changed, send it whole
    if len(value) > MAX_RANGE_HEADER:
        return  # BAD_INPUTS 52
    unit, _, spec = value.partition("=")
    unit = unit.strip(" \t")
    if not (unit.isascii() and unit.lower() == "bytes") or "," in spec:
        return  # RFC 9110 §14.2: unknown unit ignored; many ranges: full body
    parsed = wh.parse_range_header(value)
    if parsed is None:
        raise RequestedRangeNotSatisfiable(length=length)
    begin, end = parsed.ranges[0]
    if begin < 0:  # suffix: RFC 9110 §14.1.3, longer than the body = whole body
        start, stop = max(length + begin, 0), length
    else:
        start, stop = begin, length if end is None else min(end, length)
    if start >= length:  # RFC 9110 §14.1.1: first-pos beyond the representation
        raise RequestedRangeNotSatisfiable(length=length)
    response.status_code = 206
    response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{length}"
    response.headers["Content-Length"] = str(stop - start)
    body = response.response
    if isinstance(body, (list, tuple)):
        response.response = [b"".join(response.iter_encoded())[start:stop]]
    else:
        close = getattr(body, "close", None)
        if close is not None:
            response.call_on_close(close)
        response.response = iter_range(body, start, stop)


def iter_range(body: Any, start: int, stop: int) -> Iterator[bytes]:
    """Yield bytes ``start:stop`` of a streamed body, seeking when it can."""
    pos = 0
    seek = getattr(body, "seek", None)
    seekable = getattr(body, "seekable", None)
    if seek is not None and (seekable is None or seekable()):
        seek(start)  # a file wrapper: skip without reading
        pos = start
    for chunk in body:
        if isinstance(chunk, str):
            chunk = chunk.encode()
        end = pos + len(chunk)
        if end > start:
            yield chunk[max(start - pos, 0) : stop - pos]
            if end >= stop:
                return
        pos = end
