"""Parse ``multipart/form-data`` bodies pushed in chunks, with limits on everything.

What it holds:

- :class:`MultipartParser` — a push parser with a ``feed(chunk)`` /
  ``finish() -> (form, files)`` interface, so the WSGI adapter (reading a file-like
  stream) and the ASGI adapter (awaiting ``receive``) drive the same code;
- :func:`parse_boundary` (the validated boundary of a Content-Type) and
  :func:`default_stream_factory` (the file an uploaded part is written to);
- the multipart limits, and the form defaults and :func:`multidict_from_lists` that
  :mod:`erlen.formparser` shares: they live here, in the lower module, so that
  :mod:`erlen.formparser` can import this one; it re-exports every public name.

Limits (defaults; :func:`erlen.formparser.create_form_parser` passes the app's values):

- ``max_form_parts`` (1000) parts, 100 of them files -> 413;
- ``max_form_memory_size`` (500 kB) per non-file field, counted across chunks, and
  ``max_memory`` for all non-file fields together -> 413;
- 8 headers and 8 KiB of headers per part -> 413; a boundary that is missing, empty,
  over 256 bytes or not printable ASCII -> 400; a truncated body -> 400;
- a part body that contains the boundary right after a line break -> 400 (RFC 2046
  §5.1.1 forbids it; two parsers could split such a body differently);
- file parts spool to disk above 1 MiB (:class:`tempfile.SpooledTemporaryFile`) and
  are all closed when parsing fails.

The grammar is Werkzeug's (``werkzeug.sansio.multipart``): CRLF, LF or CR line
breaks, transport padding after a boundary, a blank line of CRLF CRLF, CR CR or
LF LF after the part headers. It is parsed here with ``bytes.find`` instead of
Werkzeug's regular expressions, which scan part data several times at a few ns a byte.

Not done on purpose: ``Content-Transfer-Encoding`` inside parts is ignored (RFC 7578
§4.7 deprecates it). File names are kept as sent; pass them through
:func:`werkzeug.utils.secure_filename` before using them as paths.

Imports no erlen module (Werkzeug only), so every erlen module may import this one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.http import parse_options_header, unquote_header_value

__all__ = [
    "DEFAULT_MAX_FORM_MEMORY_SIZE",
    "DEFAULT_MAX_FORM_PARTS",
    "MAX_BOUNDARY_LENGTH",
    "MAX_FILE_PARTS",
    "MAX_FORM_MEMORY_TOTAL",
    "MAX_PART_HEADERS",
    "MAX_PART_HEADER_SIZE",
    "SPOOL_MAX_SIZE",
    "MultipartParser",
    "StreamFactory",
    "default_stream_factory",
    "multidict_from_lists",
    "parse_boundary",
]

# Form defaults shared with the url-encoded parser in erlen.formparser.
DEFAULT_MAX_FORM_MEMORY_SIZE = 500_000
DEFAULT_MAX_FORM_PARTS = 1000
MAX_FORM_MEMORY_TOTAL = 8 * 1024 * 1024
# Multipart only.
MAX_FILE_PARTS = 100
MAX_PART_HEADERS = 8
MAX_PART_HEADER_SIZE = 8 * 1024
MAX_BOUNDARY_LENGTH = 256
SPOOL_MAX_SIZE = 1024 * 1024
#: Transport padding (spaces/tabs) allowed after a boundary.
_MAX_PADDING = 64

#: A stream factory: ``(total_content_length, content_type, filename,
#: content_length)`` -> a writable, readable, seekable binary file.
StreamFactory = Callable[..., IO[bytes]]

_PADDING_RE = re.compile(rb"[ \t]{0,%d}" % _MAX_PADDING)
# Werkzeug's end of a part's header block (``sansio.multipart.BLANK_LINE_RE``).
_BLANK_LINE_RE = re.compile(rb"\r\n\r\n|\r\r|\n\n")
# A header line continued on the next one (a line break, then a space or tab).
_CONTINUATION_RE = re.compile(rb"(?:\r\n|\n|\r)[ \t]")
# The Content-Disposition browsers send. For a value of exactly this shape,
# Werkzeug's parse_options_header returns these name and filename unchanged (no
# backslash or %22 to unescape, no other parameter); other values go through it.
_DISPOSITION_RE = re.compile(
    r'[^;"]*;[ \t]*name="([^"\\%]*)"(?:[ \t]*;[ \t]*filename="([^"\\%]*)")?'
)
# The header block of a part as browsers send it. For a block of exactly this shape,
# _split_headers and the Content-Disposition parsing below give these groups.
_STANDARD_PART_RE = re.compile(
    r'Content-Disposition: (form-data; name="([^"\\%\r\n]*)"'
    r'(?:; filename="([^"\\%\r\n]*)")?)'
    r"(?:\r\nContent-Type: (\S(?:[^\r\n]*\S)?))?"
)
_PART_CHARSETS = frozenset(("ascii", "us-ascii", "utf-8", "iso-8859-1"))
_MULTIDICT_INIT = MultiDict.__init__


def multidict_from_lists(
    cls: type[MultiDict[str, Any]], lists: dict[str, list[Any]]
) -> MultiDict[str, Any]:
    """Return a new *cls* holding *lists* (``{key: [value, ...]}``, no empty list).

    The same as ``cls([(key, value) for key, values in lists.items() for value in
    values])``; *lists* and its lists become the multi-dict's own.
    """
    # PERF: a MultiDict is a dict of value lists. Filling one with dict.update
    # skips MultiDict.__init__'s Python loop over every pair; it is exactly what
    # that loop builds. Classes with their own __init__ get the pairs instead.
    if cls.__init__ is _MULTIDICT_INIT:
        md = cls.__new__(cls)
        dict.update(md, lists)
        return md
    return cls([(key, value) for key, values in lists.items() for value in values])


# -- parts, headers and delimiter lines ---------------------------------------------


def default_stream_factory(
    total_content_length: int | None,
    content_type: str | None,
    filename: str | None,
    content_length: int | None = None,
) -> IO[bytes]:
    """Return an anonymous file that stays in memory up to 1 MiB, then spools to disk.

    The arguments are those of Werkzeug's ``Request._get_file_stream``; they are
    unused here and exist so a replacement factory can decide by them.
    """
    return SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="rb+")  # type: ignore[return-value]


def parse_boundary(options: dict[str, str]) -> bytes:
    """Return the validated ``boundary`` parameter of a multipart Content-Type.

    :raise BadRequest: missing, empty, longer than 256 bytes, or not printable
        ASCII (which excludes CR and LF).
    """
    boundary = options.get("boundary")
    if not boundary:
        raise BadRequest("The multipart/form-data boundary is missing.")
    if len(boundary) > MAX_BOUNDARY_LENGTH:
        raise BadRequest("The multipart/form-data boundary is too long.")
    # RFC 2046 §5.1.1 allows fewer characters; printable ASCII is what parsers accept.
    if not (boundary.isascii() and boundary.isprintable()):
        raise BadRequest("The multipart/form-data boundary has invalid characters.")
    return boundary.encode("ascii")


def _closing_quote(value: str, pos: int) -> int:
    """Return the index of the ``"`` closing a quoted string opened before *pos*."""
    while True:
        q = value.find('"', pos)
        if q == -1:
            return -1
        # A quote preceded by an odd run of backslashes is escaped. Each run is
        # counted once, so this stays linear.
        run = 0
        i = q - 1
        while i >= pos and value[i] == "\\":
            run += 1
            i -= 1
        if not run & 1:
            return q
        pos = q + 1


def _plain_params(value: str) -> dict[str, str]:
    """Return the parameters of a header value that carry no RFC 2231 ``*`` marker.

    Werkzeug's :func:`~werkzeug.http.parse_options_header` lets ``name*=`` replace
    ``name=``; RFC 7578 §4.2 says form data must not use the ``*`` form, so the
    plain parameter is the one erlen trusts.
    """
    out: dict[str, str] = {}
    n = len(value)
    pos = value.find(";")
    while pos != -1 and pos < n:
        start = pos + 1
        eq = value.find("=", start)
        if eq == -1:
            break
        semi = value.find(";", start)
        if semi != -1 and semi < eq:  # a parameter without a value
            pos = semi
            continue
        key = value[start:eq].strip(" \t").lower()
        vstart = eq + 1
        while vstart < n and value[vstart] in " \t":
            vstart += 1
        if vstart < n and value[vstart] == '"':
            end = _closing_quote(value, vstart + 1)
            if end == -1:
                break
            raw = value[vstart : end + 1]
            pos = value.find(";", end + 1)
        else:
            pos = value.find(";", vstart)
            raw = value[vstart : n if pos == -1 else pos].strip(" \t")
        if key and "*" not in key:
            out[key] = unquote_header_value(raw).replace("%22", '"')
    return out


def _probe_headers() -> bool:
    """Tell whether a Headers object is a list of pairs in ``_list`` (Werkzeug 3)."""
    pairs = [("Content-Type", "text/plain")]
    made = Headers.__new__(Headers)
    made._list = list(pairs)  # type: ignore[attr-defined]
    return getattr(Headers(pairs), "_list", None) == pairs and made == Headers(pairs)


_HEADERS_ARE_A_LIST = _probe_headers()


def _make_headers(pairs: list[tuple[str, str]]) -> Headers:
    """Return a :class:`Headers` holding *pairs* (part headers, split at line breaks)."""
    # PERF: Headers(pairs) checks every value for line breaks in Python (1.6 µs for
    # two headers); these come from split lines and hold none. Checked at import
    # that Werkzeug keeps the pairs as a list in `_list`; else the constructor.
    if _HEADERS_ARE_A_LIST:
        headers = Headers.__new__(Headers)
        headers._list = pairs  # type: ignore[attr-defined]
        return headers
    return Headers(pairs)  # pragma: no cover - a Werkzeug without Headers._list


def _part_charset(content_type: str) -> str:
    charset = parse_options_header(content_type)[1].get("charset", "").lower()
    return charset if charset in _PART_CHARSETS else "utf-8"


# What _line_end returns instead of the end of a delimiter line.
_NEED = -1  # the buffer ends before the line can be judged
_BAD = -2  # not a delimiter line
_CLOSE = -3  # the closing delimiter: the epilogue follows


def _line_end(buf: bytes, j: int) -> int:
    """Judge the rest of a delimiter line whose ``--boundary`` ends at *j* in *buf*.

    Return the index after the line's line break, or ``_CLOSE``, ``_NEED`` or
    ``_BAD``. Werkzeug's grammar: ``--`` closes (whatever follows); otherwise
    transport padding, then CRLF, LF or CR.
    """
    n = len(buf)
    if j >= n:
        return _NEED
    c = buf[j]
    if c == 45:  # "-"
        if j + 1 == n:
            return _NEED
        return _CLOSE if buf[j + 1] == 45 else _BAD
    k = j
    if c == 32 or c == 9:
        k = _PADDING_RE.match(buf, j).end()  # type: ignore[union-attr]
        if k == n:
            return _NEED
        c = buf[k]
    if c == 10:
        return k + 1
    if c == 13:
        if k + 1 == n:
            return _NEED  # a CR last: an LF may follow
        return k + 2 if buf[k + 1] == 10 else k + 1
    return _BAD


def _split_headers(
    block: bytes,
) -> tuple[list[tuple[str, str]], str | None, str | None, str | None]:
    """Split a part's header block into pairs, as Werkzeug's decoder does.

    Return the pairs and the first Content-Disposition, Content-Type and
    Content-Length values.

    :raise UnicodeDecodeError: the block is not UTF-8.
    """
    if b"\n " in block or b"\n\t" in block or b"\r " in block or b"\r\t" in block:
        block = _CONTINUATION_RE.sub(b" ", block)
    text = block.decode()
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    headers: list[tuple[str, str]] = []
    disposition = content_type = length = None
    for line in text.split("\n"):
        key, colon, value = line.partition(":")
        key = key.strip(" \t")
        value = value.strip(" \t")
        if key or colon:  # blank lines are skipped
            headers.append((key, value))
            lower = key.lower()
            if lower == "content-disposition":
                if disposition is None:
                    disposition = value
            elif lower == "content-type":
                if content_type is None:
                    content_type = value
            elif lower == "content-length" and length is None:
                length = value
    return headers, disposition, content_type, length


# MultipartParser states.
_PREAMBLE, _HEADERS, _DATA, _EPILOGUE = range(4)
#: After this many "--boundary" strings without a line break before them in one
#: buffer, delimiters are searched for with their line break (see _find_slow).
_MAX_MISSES = 8


class MultipartParser:
    """Parse a ``multipart/form-data`` body pushed to it in chunks of any size.

    Follows the grammar of :mod:`werkzeug.sansio.multipart` and adds the limits and
    checks listed in the module docstring. Use ``feed`` for each chunk, then
    ``finish``; on any error every file opened so far is closed. Any split of a
    body into chunks gives the same result as the whole body in one chunk.

    :param boundary: the boundary from the Content-Type (see :func:`parse_boundary`).
    :param max_form_memory_size: the most bytes of one non-file field, or ``None``.
    :param max_form_parts: the most parts, or ``None``.
    :param max_file_parts: the most file parts, or ``None``.
    :param max_memory: the most bytes of all non-file fields together, or ``None``.
    :param max_part_headers: the most headers of one part.
    :param max_part_header_size: the most bytes of the headers of one part.
    :param stream_factory: makes the file each file part is written to.
    :param content_length: the body's length if known, passed to *stream_factory*.
    :param cls: the multi-dict class of the result.
    """

    __slots__ = tuple(
        """
        _buf _charset _chunks _closed _cr_at _dash _field_size _fields _file
        _file_parts _filename _files _fresh _headers _hold _hscan _lf_at _memory
        _name _parts _received _state cls content_length max_file_parts
        max_form_memory_size max_form_parts max_memory max_part_header_size
        max_part_headers stream_factory
        """.split()  # noqa: SIM905 - a list of names reads better as words
    )

    def __init__(
        self,
        boundary: bytes,
        *,
        max_form_memory_size: int | None = DEFAULT_MAX_FORM_MEMORY_SIZE,
        max_form_parts: int | None = DEFAULT_MAX_FORM_PARTS,
        max_file_parts: int | None = MAX_FILE_PARTS,
        max_memory: int | None = MAX_FORM_MEMORY_TOTAL,
        max_part_headers: int = MAX_PART_HEADERS,
        max_part_header_size: int = MAX_PART_HEADER_SIZE,
        stream_factory: StreamFactory | None = None,
        content_length: int | None = None,
        cls: type[MultiDict[str, Any]] = MultiDict,
    ) -> None:
        if not boundary or len(boundary) > MAX_BOUNDARY_LENGTH:
            raise BadRequest("The multipart/form-data boundary is invalid.")
        self.max_form_memory_size = max_form_memory_size
        self.max_form_parts = max_form_parts
        self.max_file_parts = max_file_parts
        self.max_memory = max_memory
        self.max_part_headers = max_part_headers
        self.max_part_header_size = max_part_header_size
        self.stream_factory = stream_factory or default_stream_factory
        self.content_length = content_length
        self.cls = cls
        self._dash = b"--" + boundary
        # A line break and "--boundary" start a delimiter line: data ending in
        # fewer bytes than that may hold the start of one, and waits.
        self._hold = len(boundary) + 3
        self._state = _PREAMBLE
        self._buf = b""  # input not consumed yet (short, except a header block)
        self._hscan = 0  # where in _buf the search for a blank line resumes
        self._fresh = False  # in _DATA, nothing of the part's data seen yet
        self._lf_at = self._cr_at = -2  # _find_slow's results in the current buffer
        self._received = self._closed = False
        self._fields: dict[str, list[str]] = {}
        self._files: dict[str, list[FileStorage]] = {}
        self._parts = self._file_parts = self._memory = self._field_size = 0
        # The part being read: its name, filename, headers and where data goes.
        self._name = ""
        self._filename: str | None = None
        self._headers: list[tuple[str, str]] = []
        self._charset = "utf-8"
        self._file: IO[bytes] | None = None
        self._chunks: list[bytes] = []

    # -- public ------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of the body; raise a 4xx error as soon as one shows."""
        if self._closed:
            raise RuntimeError("This MultipartParser is finished or closed.")
        if not chunk or self._state == _EPILOGUE:
            # Data after the closing delimiter is discarded without buffering.
            return
        self._received = True
        buf = self._buf
        try:
            self._buf = self._parse(buf + chunk if buf else bytes(chunk))
        except ValueError as e:
            self.close()
            raise BadRequest(f"Invalid multipart/form-data: {e}") from None
        except BaseException:
            self.close()
            raise

    def finish(self) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        """Check that the body was complete and return ``(form, files)``.

        :raise BadRequest: the body ended before the closing delimiter, or had no
            delimiter at all (an empty body is an empty form).
        """
        if self._closed:
            raise RuntimeError("This MultipartParser is finished or closed.")
        state = self._state
        if state == _PREAMBLE and self._received:
            self.close()
            raise BadRequest("The multipart/form-data body has no boundary.")
        if state in (_HEADERS, _DATA):
            self.close()
            raise BadRequest("The multipart/form-data body is truncated.")
        self._closed = True
        self._buf = b""
        fields, files = self._fields, self._files
        # The results own the value lists now: close() must not reach them.
        self._fields = {}
        self._files = {}
        return multidict_from_lists(self.cls, fields), multidict_from_lists(
            self.cls, files
        )

    def close(self) -> None:
        """Close every file opened so far and drop buffered data."""
        self._closed = True
        file = self._file
        if file is not None:
            self._file = None
            file.close()
        for storages in self._files.values():
            for storage in storages:
                storage.close()
        self._files.clear()
        self._chunks = []
        self._buf = b""

    # -- internals ---------------------------------------------------------------

    def _parse(self, buf: bytes) -> bytes:
        """Consume all that can be decided of *buf*; return the rest, to keep."""
        pos = 0
        self._lf_at = self._cr_at = -2
        while True:
            state = self._state
            if state == _DATA:
                line_end = _BAD
                if self._fresh:
                    # Werkzeug lets the blank line after the headers double as the
                    # line break of a delimiter: "--boundary" right at the start of
                    # the data ends an empty part (RFC 2046: a part without body).
                    dash = self._dash
                    if buf.startswith(dash, pos):
                        line_end = _line_end(buf, pos + len(dash))
                        if line_end == _NEED:
                            return buf[pos:]
                    elif len(buf) - pos < len(dash) and dash.startswith(buf[pos:]):
                        return buf[pos:]
                    self._fresh = False
                if line_end == _BAD:
                    c = self._find_delimiter(buf, pos)
                    if c == -1:
                        end = len(buf) - self._hold
                        if end <= pos:
                            return buf[pos:]
                        self._data(buf, pos, end)
                        return buf[end:]
                    line_end = _line_end(buf, c + self._hold)
                    # The line break before the delimiter is not part of the data.
                    if c > pos and buf[c] == 10 and buf[c - 1] == 13:
                        c -= 1
                    if line_end == _NEED:
                        if c > pos:
                            self._data(buf, pos, c)
                        return buf[c:]
                    if line_end == _BAD:
                        # RFC 2046 §5.1.1: the boundary may not occur in a part body.
                        raise BadRequest(
                            "A multipart/form-data part contains the boundary."
                        )
                else:
                    c = pos
                self._end_part(buf, pos, c)
                if line_end == _CLOSE:
                    self._state = _EPILOGUE
                    return b""
                pos = self._hscan = line_end
                self._state = _HEADERS
            elif state == _HEADERS:
                m = _BLANK_LINE_RE.search(buf, self._hscan)
                if m is None:
                    size = len(buf) - pos
                    # Up to 3 bytes may be the start of the blank line.
                    if size - 3 > self.max_part_header_size:
                        raise RequestEntityTooLarge()
                    self._hscan = max(0, size - 3)
                    return buf[pos:]
                start, end = m.span()
                if start - pos > self.max_part_header_size:
                    raise RequestEntityTooLarge()
                # Like Werkzeug: the headers end after the first line break of the
                # blank line, and the data starts after the next line break.
                mid = (start + end) >> 1
                if buf[mid] == 13:
                    if mid + 1 == len(buf):  # CR CR last: an LF may follow
                        self._hscan = start - pos
                        return buf[pos:]
                    end = mid + 2 if buf[mid + 1] == 10 else mid + 1
                self._start_part(buf[pos:start])
                pos = end
                self._state = _DATA
                self._fresh = True
            elif state == _PREAMBLE:
                dash = self._dash
                i = buf.find(dash, pos)
                line_end = _NEED if i == -1 else _line_end(buf, i + len(dash))
                if line_end == _BAD:
                    i = self._find_first(buf, i + 1)
                    if i != -1:
                        line_end = _line_end(buf, i + len(dash))
                if i == -1:
                    # Keep only what may be the start of "--boundary".
                    return buf[max(pos, len(buf) - len(dash) + 1) :]
                if line_end == _NEED:
                    return buf[i:]
                if line_end == _CLOSE:  # an empty form
                    self._state = _EPILOGUE
                    return b""
                pos = self._hscan = line_end
                self._state = _HEADERS
            else:
                return b""

    def _find_first(self, buf: bytes, start: int) -> int:
        """Return where the first delimiter line, or a possible start of one, is.

        Used when the preamble holds "--boundary" not followed by a line break: a
        regular expression skips such strings in C rather than one by one.
        """
        tail = rb"(?:--|-\Z|[ \t]{0,%d}(?:[\r\n]|\Z))" % _MAX_PADDING
        match = re.compile(re.escape(self._dash) + tail).search(buf, start)
        return -1 if match is None else match.start()

    def _find_delimiter(self, buf: bytes, pos: int) -> int:
        """Return where the next line break + ``--boundary`` after *pos* is, or -1."""
        dash = self._dash
        find = buf.find
        # PERF: one bytes.find per delimiter (a fast C scan); a line break is
        # checked only where "--boundary" is. Werkzeug's regex scans the data at
        # a few ns a byte, several times.
        i = find(dash, pos + 1)
        misses = 0
        while i != -1:
            c = buf[i - 1]
            if c == 10 or c == 13:
                return i - 1
            misses += 1
            if misses == _MAX_MISSES:
                return self._find_slow(buf, i)
            i = find(dash, i + 1)
        return -1

    def _find_slow(self, buf: bytes, start: int) -> int:
        """Like _find_delimiter from *start*, with one search per line break kind.

        For data full of "--boundary" strings without a line break, which would
        otherwise cost a Python loop each. The results are kept for the rest of
        the buffer, so each byte is scanned at most once by each search.
        """
        lf = self._lf_at
        if lf != -1 and lf < start:
            lf = self._lf_at = buf.find(b"\n" + self._dash, start)
        cr = self._cr_at
        if cr != -1 and cr < start:
            cr = self._cr_at = buf.find(b"\r" + self._dash, start)
        if lf == -1 or (cr != -1 and cr < lf):
            return cr
        return lf

    def _start_part(self, block: bytes) -> None:
        """Parse a part's header block (Werkzeug's rules) and prepare for its data."""
        text = block.decode()  # not UTF-8: UnicodeDecodeError, a ValueError -> 400
        # PERF: the header block browsers send, in one match.
        match = _STANDARD_PART_RE.fullmatch(text)
        if match is not None:
            disposition, name, filename, content_type = match.groups()
            headers = [("Content-Disposition", disposition)]
            if content_type is not None:
                headers.append(("Content-Type", content_type))
            self._parts += 1
            length = None
        else:
            headers, disposition, content_type, length = _split_headers(block)
            if disposition is None:
                raise ValueError("Missing Content-Disposition header")
            self._parts += 1
            match = _DISPOSITION_RE.fullmatch(disposition)
            if match is not None:
                name, filename = match.groups()
            else:
                params = parse_options_header(disposition)[1]
                name = params.get("name")
                filename = params.get("filename")
                if "*" in disposition:
                    # RFC 7578 §4.2: `name*=` / `filename*=` never override the
                    # plain value.
                    plain = _plain_params(disposition)
                    name = plain.get("name", name)
                    if filename is not None:
                        filename = plain.get("filename", filename)
        if self.max_form_parts is not None and self._parts > self.max_form_parts:
            raise RequestEntityTooLarge()
        if len(headers) > self.max_part_headers:
            raise RequestEntityTooLarge()
        if name is None:
            raise BadRequest("A multipart/form-data part has no name.")
        self._name = name
        self._headers = headers
        if filename is not None:
            self._file_parts += 1
            limit = self.max_file_parts
            if limit is not None and self._file_parts > limit:
                raise RequestEntityTooLarge()
            size: int | None = None
            if length is not None:
                try:
                    size = int(length)
                except ValueError:
                    size = None
            self._filename = filename
            self._file = self.stream_factory(
                total_content_length=self.content_length,
                content_type=content_type,
                filename=filename,
                content_length=size,
            )
        else:
            self._charset = _part_charset(content_type) if content_type else "utf-8"
            self._field_size = 0

    def _data(self, buf: bytes, start: int, end: int) -> None:
        """Take ``buf[start:end]`` as data of the current part."""
        file = self._file
        if file is not None:
            # PERF: a memoryview slice is not a copy; the file copies it once.
            file.write(memoryview(buf)[start:end])  # type: ignore[arg-type]
            return
        size = end - start
        self._field_size += size
        self._memory += size
        limit = self.max_form_memory_size
        if limit is not None and self._field_size > limit:
            raise RequestEntityTooLarge()
        if self.max_memory is not None and self._memory > self.max_memory:
            raise RequestEntityTooLarge()
        self._chunks.append(buf[start:end])

    def _end_part(self, buf: bytes, start: int, end: int) -> None:
        """Take ``buf[start:end]`` as the last data of the part and store the part."""
        if end > start:
            self._data(buf, start, end)
        name = self._name
        file = self._file
        if file is not None:
            self._file = None
            file.seek(0)
            storage = FileStorage(
                file, self._filename, name, headers=_make_headers(self._headers)
            )
            files = self._files
            if name in files:
                files[name].append(storage)
            else:
                files[name] = [storage]
            return
        chunks = self._chunks
        if chunks:
            raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self._chunks = []
            value = raw.decode(self._charset, "replace")
        else:
            value = ""
        fields = self._fields
        if name in fields:
            fields[name].append(value)
        else:
            fields[name] = [value]
