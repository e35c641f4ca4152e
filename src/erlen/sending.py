"""Send files: :func:`send_file`, :func:`send_from_directory` and their parts.

Holds the two view helpers Flask users know, the checks that keep a
client-supplied name inside a directory (:func:`safe_join`, :func:`is_inside`),
the ``Content-Disposition`` value for a download name
(:func:`content_disposition`) and :class:`FileBody`, the response body that reads
a file in chunks — a file is never read whole into memory. Conditional and range
requests (304, 412, 206, 416) are decided by
:meth:`Response.make_conditional <erlen.wrappers.Response.make_conditional>`;
this module only supplies the validators (ETag, Last-Modified) and the length.

May import: erlen.globals (the current app and request). The response class is
the app's ``response_class``; nothing here knows WSGI or ASGI beyond handing an
open file to a WSGI server's optional ``wsgi.file_wrapper`` (PEP 3333).
"""

from __future__ import annotations

import io
import mimetypes
import os
import posixpath
import re
import stat
import unicodedata
import zlib
from collections.abc import Callable
from datetime import date, datetime
from time import time
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.exceptions import NotFound, RequestedRangeNotSatisfiable
from werkzeug.http import http_date

from .globals import _cv_ctx, _no_req_msg

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .wrappers import Request, Response

__all__ = [
    "CHUNK_SIZE",
    "FileBody",
    "FileNotFound",
    "content_disposition",
    "is_inside",
    "safe_join",
    "send_file",
    "send_from_directory",
]

#: Bytes read from a file per step of :class:`FileBody` (and handed to a WSGI
#: server's ``wsgi.file_wrapper`` as its block size).
CHUNK_SIZE = 64 * 1024

# Device names Windows opens as devices in any folder, whatever the extension or
# trailing spaces ("CON.txt", "AUX  "); reading one can hang (BAD_INPUTS 55).
# https://chrisdenton.github.io/omnipath/Special%20Dos%20Device%20Names.html
_WINDOWS_DEVICES = frozenset(
    {"AUX", "CON", "CONIN$", "CONOUT$", "NUL", "PRN"}
    | {f"{kind}{n}" for kind in ("COM", "LPT") for n in "123456789¹²³"}
)

# Characters refused anywhere in a client-supplied path (BAD_INPUTS 54):
# control characters (NUL makes os.stat raise), the backslash (a separator on
# Windows), the colon (a drive "C:" or an NTFS stream "x::$DATA" on Windows) and
# separators still percent-encoded, which a later decoding step could turn into
# real ones.
_BAD_PATH_RE = re.compile(r"[\x00-\x1f\x7f\\:]|%(?:2[fF]|5[cC])")

# RFC 9110 §5.6.2 token: a filename made only of these needs no quotes.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 8187 attr-char, left unencoded in filename*.
_ATTR_CHARS = "!#$&+-.^_`|~"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

_TEXT_FILE_ERROR = "Files must be opened in binary mode or use BytesIO."


class FileNotFound(NotFound, FileNotFoundError):
    """The file to send does not exist: a 404 that is also a FileNotFoundError.

    Flask lets ``FileNotFoundError`` escape from ``send_file`` (a 500); erlen
    answers 404, and code written for Flask that catches ``FileNotFoundError``
    around ``send_file`` still catches this.
    """


class FileBody:
    """Iterate over a binary file in chunks: the body of a file response.

    Each step reads at most ``chunk_size`` bytes, and no more than ``length``
    bytes are produced in all (so a file that grows while it is sent cannot
    overrun its ``Content-Length``). :meth:`seek` positions the body relative to
    where it started, which is how a range response (206) skips to its first byte
    without reading what comes before. The file is closed when the body is
    exhausted, or by :meth:`close`.

    ``path`` is the absolute path when the file was opened from one (else None),
    so that an ASGI adapter may send it with ``http.response.pathsend`` instead of
    reading it; ``length`` is the number of bytes to send, when known.

    Example::

        body = FileBody(open("big.iso", "rb"), length=os.path.getsize("big.iso"))
        for chunk in body:  # 64 KiB at a time
            ...
        body.close()
    """

    __slots__ = ("_left", "chunk_size", "file", "length", "offset", "path")

    def __init__(
        self,
        file: IO[bytes],
        length: int | None = None,
        path: str | None = None,
        offset: int = 0,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1.")
        self.file = file
        self.length = length
        self.path = path
        #: Position in ``file`` where the body starts (seek(0) goes there).
        self.offset = offset
        self.chunk_size = chunk_size
        self._left = length

    def __iter__(self) -> FileBody:
        return self

    def __next__(self) -> bytes:
        left = self._left
        if left is None:
            data = self.file.read(self.chunk_size)
        elif left <= 0:
            data = b""
        else:
            data = self.file.read(left if left < self.chunk_size else self.chunk_size)
            self._left = left - len(data)
        if not data:
            # Done: release the file now rather than when the server calls close()
            # (some never do). close() stays safe to call again.
            self.close()
            raise StopIteration
        return data

    def seekable(self) -> bool:
        """Whether :meth:`seek` works (the underlying file can seek)."""
        seekable = getattr(self.file, "seekable", None)
        try:
            return bool(seekable()) if seekable is not None else False
        except ValueError:  # a closed file
            return False

    def seek(self, position: int) -> None:
        """Continue from byte ``position`` of the body (0 is its first byte)."""
        if position < 0:
            raise ValueError("A body position cannot be negative.")
        self.file.seek(self.offset + position)
        if self.length is not None:
            self._left = max(self.length - position, 0)

    def close(self) -> None:
        """Close the file (if it has a ``close`` method, as PEP 3333 allows)."""
        close = getattr(self.file, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        name = self.path if self.path is not None else type(self.file).__name__
        return f"<{type(self).__name__} {name!r} length={self.length}>"


# -- Paths ---------------------------------------------------------------------------
def safe_join(directory: str, *pathnames: str) -> str | None:
    """Join URL-style ``pathnames`` to ``directory``, or return None if unsafe.

    Each name is split on ``/`` and every segment is checked on its own: empty
    segments (a leading ``/``, ``//``), segments made only of dots and spaces
    (``.``, ``..``), backslashes, colons (``C:``), control characters and
    percent-encoded separators are refused. When ``os.name == "nt"``, the
    Windows device names (``CON``, ``NUL``, ``COM1``... with any extension or
    trailing spaces) and segments ending in a dot or space are refused too.

    Only the names are checked; the filesystem is not touched, so the answer is
    the same whether the target exists or not. :func:`send_from_directory` also
    checks with :func:`is_inside` that symlinks do not lead out.

    >>> safe_join("/srv/static", "css/site.css")
    '/srv/static/css/site.css'
    >>> safe_join("/srv/static", "../secret") is None
    True
    """
    parts = [directory or "."]  # "" must not make the first name the base
    windows = os.name == "nt"
    for name in pathnames:
        if not isinstance(name, str) or _BAD_PATH_RE.search(name) is not None:
            return None
        for segment in name.split("/"):
            if not segment.strip(". "):
                return None  # "", ".", "..", "...", " " (Windows drops trailing dots)
            if windows and (
                segment[-1] in ". "
                or segment.partition(".")[0].strip().upper() in _WINDOWS_DEVICES
            ):
                return None
        parts.append(name)
    return posixpath.join(*parts)


def is_inside(directory: str, path: str) -> bool:
    """Return whether ``path`` resolves (symlinks followed) to inside ``directory``.

    A sibling sharing the directory's name as a prefix (``static`` and
    ``static-private``) is outside.
    """
    root = os.path.join(os.path.realpath(directory), "")
    return os.path.realpath(path).startswith(root)


# -- Content-Disposition ---------------------------------------------------------
def content_disposition(download_name: str, as_attachment: bool = False) -> str:
    """Return the ``Content-Disposition`` value for ``download_name`` (RFC 6266).

    An ASCII name goes in ``filename=``, quoted (with ``"`` and ``\\`` escaped)
    unless it is a token. A name with non-ASCII or control characters is sent
    exactly, percent-encoded, in ``filename*=UTF-8''...`` (RFC 8187), with an ASCII
    approximation (accents removed, control characters dropped) in ``filename=``
    for old clients. Whatever the name holds, the value never contains CR, LF or
    an unquoted ``;``, so no header or parameter can be injected (BAD_INPUTS 27).

    >>> content_disposition("report.pdf", as_attachment=True)
    'attachment; filename=report.pdf'
    >>> content_disposition("résumé.pdf")
    "inline; filename=resume.pdf; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    """
    kind = "attachment" if as_attachment else "inline"
    if download_name.isascii() and _CONTROL_RE.search(download_name) is None:
        return f"{kind}; filename={_quote_param(download_name)}"
    simple = unicodedata.normalize("NFKD", download_name)
    simple = _CONTROL_RE.sub("", simple.encode("ascii", "ignore").decode("ascii"))
    encoded = quote(download_name, safe=_ATTR_CHARS)
    return f"{kind}; filename={_quote_param(simple)}; filename*=UTF-8''{encoded}"


def _quote_param(value: str) -> str:
    """Return ``value`` as a parameter value: a token, or a quoted-string."""
    if _TOKEN_RE.fullmatch(value) is not None:
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# -- send_file ---------------------------------------------------------------------
def send_file(
    path_or_file: os.PathLike[str] | str | IO[bytes],
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: int | Callable[[str | None], int | None] | None = None,
) -> Response:
    """Send a file, or a binary file object, as the response to the current request.

    The file is streamed in 64 KiB chunks, never read whole. With a path (relative
    paths are relative to the app's ``root_path``), the response carries
    ``Content-Length``, ``Last-Modified`` and an ``ETag``; with ``conditional``
    the request's ``If-None-Match``/``If-Modified-Since`` give 304, ``If-Match``
    /``If-Unmodified-Since`` 412, and a single ``Range`` 206 (416 when
    unsatisfiable). ``BytesIO`` and files opened in binary mode work too (no ETag
    unless given; ranges when the size can be known).

    Never pass a path that a client chose: use :func:`send_from_directory`.

    Example::

        @app.route("/report")
        def report():
            return send_file("reports/q3.pdf", as_attachment=True,
                             download_name="Q3 report.pdf")

    :param path_or_file: a path, or a file object opened in binary mode and
        positioned at the first byte to send.
    :param mimetype: the MIME type; guessed from ``download_name`` by default
        (``application/octet-stream`` when unknown).
    :param as_attachment: ask the browser to save the file instead of showing it.
    :param download_name: the name the browser saves under; defaults to the
        file's name. Sent as ``Content-Disposition`` (see :func:`content_disposition`).
    :param conditional: answer conditional and range requests.
    :param etag: ``True`` computes an ETag for a path, a string is used as the
        ETag, ``False`` sends none.
    :param last_modified: the ``Last-Modified`` time; defaults to the file's.
    :param max_age: seconds browsers may cache the file, or a callable given the
        path returning that or None. None uses the app's
        :meth:`~erlen.Erlen.get_send_file_max_age`
        (``SEND_FILE_MAX_AGE_DEFAULT``). With no max-age, ``Cache-Control:
        no-cache`` makes browsers revalidate (a cheap 304).
    :raise FileNotFound: the path is not an existing regular file (404).
    :raise TypeError: the MIME type or attachment name cannot be determined.
    :raise ValueError: a text-mode file object was given.
    """
    ctx = _cv_ctx.get(None)
    request = None if ctx is None else ctx.request
    if request is None:
        raise RuntimeError(_no_req_msg)
    app = ctx.app
    if max_age is None:
        max_age = app.get_send_file_max_age
    return _send(
        app,
        request,
        path_or_file,
        mimetype,
        as_attachment,
        download_name,
        conditional,
        etag,
        last_modified,
        max_age,
    )


def send_from_directory(
    directory: os.PathLike[str] | str, path: os.PathLike[str] | str, **kwargs: Any
) -> Response:
    """Send file ``path`` from ``directory``, where ``path`` may come from a client.

    ``directory`` is relative to the app's ``root_path`` unless absolute, and
    trusted. ``path`` is checked with :func:`safe_join` (no ``..``, absolute
    paths, backslashes, colons, encoded separators, NUL or, on Windows, device
    names) and must resolve, symlinks followed, to a regular file inside
    ``directory``. Anything else is a 404, the same answer whether or not the
    target exists. Other keyword arguments go to :func:`send_file`.

    Example::

        @app.route("/uploads/<path:name>")
        def download(name):
            return send_from_directory(app.config["UPLOAD_FOLDER"], name,
                                       as_attachment=True)

    :raise NotFound: the path is unsafe, outside ``directory`` or not a file.
    """
    ctx = _cv_ctx.get(None)
    if ctx is None or ctx.request is None:
        raise RuntimeError(_no_req_msg)
    directory = os.path.join(ctx.app.root_path, os.fspath(directory))
    name = os.fspath(path)
    if not isinstance(name, str):
        name = os.fsdecode(name)
    target = safe_join(directory, name)
    if target is None or not is_inside(directory, target):
        raise NotFound()
    if not os.path.isfile(target):
        raise NotFound()
    return send_file(target, **kwargs)


def _send(
    app: Erlen,
    request: Request,
    path_or_file: Any,
    mimetype: str | None,
    as_attachment: bool,
    download_name: str | None,
    conditional: bool,
    etag: bool | str,
    last_modified: datetime | date | int | float | None,
    max_age: int | Callable[[str | None], int | None] | None,
) -> Response:
    """Build the file response; :func:`send_file` with the app and request found."""
    path: str | None = None
    file: Any = None
    size: int | None = None
    mtime: float | None = None
    offset = 0
    if isinstance(path_or_file, (str, os.PathLike)):
        path = os.path.join(app.root_path, os.fsdecode(path_or_file))
        size, mtime = _stat_regular(path)
    else:
        file = path_or_file
        if isinstance(file, io.TextIOBase):
            raise ValueError(_TEXT_FILE_ERROR)
        if not callable(getattr(file, "read", None)):
            raise TypeError(
                "send_file() needs a path or a file object opened in binary mode,"
                f" not {type(file).__name__}."
            )
        size, offset = _file_extent(file)

    if download_name is None and path is not None:
        download_name = os.path.basename(path)
    headers: list[tuple[str, str]] = []
    if mimetype is None:
        if download_name is None:
            raise TypeError(
                "Unable to detect the MIME type because a file name is not available."
                " Either set 'download_name', pass a path instead of a file, or set"
                " 'mimetype'."
            )
        mimetype, encoding = mimetypes.guess_type(download_name)
        if mimetype is None:
            mimetype = "application/octet-stream"
        # A .tar.gz saved as an attachment must stay compressed, so the encoding is
        # only announced when the browser shows the file.
        if encoding is not None and not as_attachment:
            headers.append(("Content-Encoding", encoding))
    if download_name is not None:
        value = content_disposition(download_name, as_attachment)
        headers.append(("Content-Disposition", value))
    elif as_attachment:
        raise TypeError(
            "No name provided for attachment. Either set 'download_name' or pass a"
            " path instead of a file."
        )

    x_sendfile = path is not None and app.config["USE_X_SENDFILE"]
    body: Any = None
    if x_sendfile:
        headers.append(("X-Sendfile", path))  # type: ignore[arg-type]
    elif path is None or request.method != "HEAD":  # a HEAD needs no open file
        if file is None:
            file = _open_regular(path)  # type: ignore[arg-type]
            # What was opened is what is described, even if the file was
            # replaced since the stat above.
            st = os.fstat(file.fileno())
            size, mtime = st.st_size, st.st_mtime
            body = FileBody(file, size, path)
        else:
            body = FileBody(file, size, None, offset)
    try:
        rv = _file_response(
            app,
            body,
            mimetype,
            headers,
            size,
            mtime,
            path,
            etag,
            last_modified,
            max_age,
        )
        if conditional:
            # Without a body here (X-Sendfile, HEAD) there is no range to cut; a
            # front server cuts ranges of the file it sends itself.
            length = None if body is None else size
            rv = rv.make_conditional(request, True, length)
    except RequestedRangeNotSatisfiable:
        if file is not None:
            file.close()
        raise
    except BaseException:
        if path is not None and file is not None:
            file.close()  # ours: opened above
        raise
    code = rv.status_code
    if code == 304 or code == 412:
        # No content goes out: free the file now. Flask sends the file's bytes
        # with a 412; erlen sends none (RFC 9110 §15.5.13 needs none).
        if file is not None:
            file.close()
        rv.response = []
        if code == 412:
            rv.headers["Content-Length"] = "0"
        # Some X-Sendfile servers send the file whatever the status.
        rv.headers.pop("X-Sendfile", None)
    elif code == 200 and path is not None and body is not None:
        wrapper = getattr(request, "environ", {}).get("wsgi.file_wrapper")
        if wrapper is not None and request.method == "GET":
            # PEP 3333: the server's wrapper may use sendfile(2) for a real file.
            rv.response = wrapper(file, CHUNK_SIZE)
    return rv


def _file_response(
    app: Erlen,
    body: FileBody | None,
    mimetype: str,
    headers: list[tuple[str, str]],
    size: int | None,
    mtime: float | None,
    path: str | None,
    etag: bool | str,
    last_modified: datetime | date | int | float | None,
    max_age: int | Callable[[str | None], int | None] | None,
) -> Response:
    """Make the 200 response and add length, validators and caching headers."""
    rv = app.response_class(
        body, mimetype=mimetype, headers=headers, direct_passthrough=True
    )
    h = rv.headers
    if size is not None:
        h["Content-Length"] = str(size)
    if last_modified is not None:
        h["Last-Modified"] = http_date(last_modified)
    elif mtime is not None:
        h["Last-Modified"] = http_date(mtime)
    if callable(max_age):
        max_age = max_age(path)
    if max_age is None:
        h["Cache-Control"] = "no-cache"
    else:
        max_age = int(max_age)
        if max_age > 0:
            h["Cache-Control"] = f"public, max-age={max_age}"
        else:
            h["Cache-Control"] = f"no-cache, max-age={max_age}"
        h["Expires"] = http_date(int(time() + max_age))
    if isinstance(etag, str):
        rv.set_etag(etag)
    elif etag and path is not None:
        # The same form as Flask's, so caches keep their validators on a switch.
        check = zlib.adler32(path.encode()) & 0xFFFFFFFF
        rv.set_etag(f"{mtime}-{size}-{check}")
    return rv


def _stat_regular(path: str) -> tuple[int, float]:
    """Return ``(size, mtime)`` of ``path``; raise FileNotFound unless a regular file.

    Anything else — a directory, a FIFO (opening one blocks), a device — is not
    something to send.
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # missing, a file as folder, NUL in the path
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise FileNotFound()
    return st.st_size, st.st_mtime


def _open_regular(path: str) -> IO[bytes]:
    """Open ``path`` for reading; a file removed since :func:`_stat_regular` is a 404."""
    try:
        return open(path, "rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise FileNotFound() from None


def _file_extent(file: Any) -> tuple[int | None, int]:
    """Return ``(bytes left to read, current position)`` of a file object.

    The size is known for ``BytesIO`` and for regular files on disk; for other
    streams it is None (the body is streamed without Content-Length or ranges).
    """
    try:
        if isinstance(file, io.BytesIO):
            position = file.tell()
            return max(file.getbuffer().nbytes - position, 0), position
        st = os.fstat(file.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None, 0
        position = file.tell()
        return max(st.st_size - position, 0), position
    except (AttributeError, OSError, ValueError):  # no fileno, not seekable, closed
        return None, 0
