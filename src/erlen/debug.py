"""The debug page and the debug-mode explanations.

In debug mode (and outside tests) an exception no handler took becomes a page
instead of propagating to the server: the exception chain, each traceback frame
with the source around it and its local values (reprs truncated), and the
request. Browsers get HTML (every value escaped, a CSP that allows no script);
clients that do not ask for HTML, such as curl, get the same as plain text.

The page is read-only: there is no interactive console, so no PIN either. It is
still refused to requests whose Host could be a DNS-rebinding name (anything
but ``localhost``, an IP address, or a name listed in ``TRUSTED_HOSTS`` /
``SERVER_NAME``), because local values may hold secrets.

:func:`explain_exception` adds Flask's debug helpers: a ``KeyError`` from
``request.form[...]`` / ``request.files[...]`` says which keys exist and why a
file may be missing; a POST answered with a redirect says why.

May import: erlen.globals. The app and request are passed in.
"""

from __future__ import annotations

import html
import ipaddress
import linecache
import os
import re
import reprlib
import sysconfig
import traceback
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import BadRequestKeyError
from werkzeug.http import parse_accept_header
from werkzeug.routing import RequestRedirect

from .globals import _cv_ctx

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .wrappers import Request, Response

__all__ = [
    "debug_response",
    "explain_exception",
    "host_is_trusted",
    "render_html",
    "render_text",
    "safe_repr",
    "wants_html",
]

#: Longest repr of a local value or view argument shown.
REPR_LIMIT = 200
#: Source lines shown before and after each frame's current line.
CONTEXT_LINES = 5
#: Locals shown per frame; the rest are counted.
MAX_LOCALS = 100
#: Longest header value shown.
HEADER_LIMIT = 1000
#: A traceback longer than this shows its first and last frames only.
MAX_FRAMES = 80
_HEAD_FRAMES, _TAIL_FRAMES = 20, 50
#: Accept headers are parsed from a bounded prefix (BAD_INPUTS 53).
_ACCEPT_LIMIT = 500

_FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxstring = REPR_LIMIT
_repr.maxother = REPR_LIMIT
_repr.maxlong = REPR_LIMIT

# C0/C1 controls except tab and newline: shown escaped so that a hostile value
# cannot drive the terminal of a developer who curls the page (BAD_INPUTS 58).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_ERLEN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LIBRARY_DIRS = tuple(
    {
        os.path.abspath(path) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_paths().get(key))
    }
)


def _clean(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def safe_repr(value: Any, limit: int = REPR_LIMIT) -> str:
    """Return a repr of ``value`` cut to ``limit`` characters; never raise.

    Containers are abbreviated by :mod:`reprlib` before they are formatted, so a
    huge list costs little; a ``__repr__`` that raises is reported, not raised.
    """
    try:
        text = _repr.repr(value)
    except Exception as e:
        text = f"<repr() failed: {type(e).__name__}>"
    return _truncate(text, limit)


# -- what to show, and to whom -----------------------------------------------------
def wants_html(accept: str | None) -> bool:
    """Tell whether an ``Accept`` header asks for HTML rather than plain text.

    Only an explicit ``text/html`` (or XHTML) counts: ``*/*`` alone — curl,
    ``fetch``, most HTTP libraries — gets text.
    """
    if not accept:
        return False
    html_q = text_q = 0.0
    for value, quality in parse_accept_header(accept[:_ACCEPT_LIMIT]):
        value = value.lower()
        if value in ("text/html", "application/xhtml+xml"):
            html_q = max(html_q, quality)
        elif value == "text/plain":
            text_q = max(text_q, quality)
    return html_q > 0 and html_q >= text_q


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def host_is_trusted(app: Erlen, request: Request) -> bool:
    """Tell whether the debug page may be shown for ``request``'s Host.

    Trusted: ``localhost`` and ``*.localhost``, IP addresses (a DNS-rebinding
    page can only reach the app under a name), and the names in
    ``TRUSTED_HOSTS`` (a leading dot allows subdomains) or ``SERVER_NAME``.
    """
    try:
        name = _hostname(request.host)
    except Exception:
        return False
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return True
    allowed = list(app.config.get("TRUSTED_HOSTS") or ())
    server_name = app.config.get("SERVER_NAME")
    if server_name:
        allowed.append(server_name)
    for entry in allowed:
        entry = _hostname(entry)
        if entry.startswith("."):
            if name == entry[1:] or name.endswith(entry):
                return True
        elif name == entry:
            return True
    return False


def debug_response(app: Erlen, error: BaseException) -> Response | None:
    """Return the debug page for ``error``, or ``None`` if the Host is not trusted.

    Called by :meth:`erlen.Erlen.handle_exception` in debug mode (see
    ``DEBUG_PAGE`` in docs/config.md). The exception is logged as usual.
    """
    ctx = _cv_ctx.get(None)
    request = ctx.request if ctx is not None else None
    if request is not None and not host_is_trusted(app, request):
        app.logger.warning(
            "Debug page not shown: the request's Host is not localhost, an IP"
            " address, or in TRUSTED_HOSTS / SERVER_NAME (it could be a"
            " DNS-rebinding name). Add the name to TRUSTED_HOSTS to see the page."
        )
        return None
    exc_info = (type(error), error, error.__traceback__)
    if request is not None:
        app.log_exception(exc_info)
    else:
        app.logger.error("Exception outside a request", exc_info=exc_info)
    accept = None
    if request is not None:
        try:
            accept = request.headers.get("Accept")
        except Exception:
            accept = None
    if wants_html(accept):
        body = render_html(error, request)
        response = app.response_class(body, 500, mimetype="text/html")
        # No script is needed; if escaping ever failed, nothing would run.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'"
        )
    else:
        body = render_text(error, request)
        response = app.response_class(body, 500, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- collecting --------------------------------------------------------------------
class _Frame:
    """One traceback frame, read out of the live frame once."""

    __slots__ = ("filename", "function", "library", "lineno", "locals", "source")

    def __init__(self, frame: FrameType, lineno: int) -> None:
        code = frame.f_code
        self.filename = code.co_filename
        self.function = getattr(code, "co_qualname", code.co_name)
        self.lineno = lineno
        path = os.path.abspath(self.filename)
        self.library = path.startswith(_ERLEN_DIR) or path.startswith(_LIBRARY_DIRS)
        lines = linecache.getlines(self.filename, frame.f_globals)
        start = max(lineno - 1 - CONTEXT_LINES, 0)
        self.source = [
            (number, line.rstrip("\r\n"))
            for number, line in enumerate(
                lines[start : lineno + CONTEXT_LINES], start + 1
            )
        ]
        #: ``None`` at module level, where the locals are the module's globals.
        self.locals: list[tuple[str, str]] | None = None
        if frame.f_locals is not frame.f_globals:
            items = list(frame.f_locals.items())
            self.locals = [(str(k), safe_repr(v)) for k, v in items[:MAX_LOCALS]]
            if len(items) > MAX_LOCALS:
                self.locals.append(("…", f"{len(items) - MAX_LOCALS} more"))


class _Exception:
    """One exception of the chain: its summary, frames and link to the next."""

    __slots__ = ("frames", "link", "message", "omitted", "summary", "type_name")

    def __init__(self, exc: BaseException, link: str | None) -> None:
        cls = type(exc)
        module = cls.__module__
        self.type_name = (
            cls.__qualname__
            if module in ("builtins", "__main__")
            else f"{module}.{cls.__qualname__}"
        )
        self.summary = "".join(traceback.format_exception_only(cls, exc)).rstrip()
        try:
            self.message = str(exc)
        except Exception:
            self.message = "<str() of the exception failed>"
        if isinstance(exc, BaseExceptionGroup):
            subs = "\n".join(
                "  " + "".join(traceback.format_exception_only(type(s), s)).rstrip()
                for s in exc.exceptions
            )
            self.summary = f"{self.summary}\n{subs}"
        frames = list(traceback.walk_tb(exc.__traceback__))
        self.omitted = 0
        if len(frames) > MAX_FRAMES:
            self.omitted = len(frames) - _HEAD_FRAMES - _TAIL_FRAMES
            frames = frames[:_HEAD_FRAMES] + frames[-_TAIL_FRAMES:]
        self.frames = [_Frame(frame, lineno) for frame, lineno in frames]
        #: How this exception relates to the one before it, as Python says it.
        self.link = link


_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


def _chain(error: BaseException) -> list[_Exception]:
    """Return the chain oldest first, as Python prints it (cycles cut)."""
    found: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    exc: BaseException | None = error
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if exc.__cause__ is not None:
            found.append((exc, _CAUSE))
            exc = exc.__cause__
        elif exc.__context__ is not None and not exc.__suppress_context__:
            found.append((exc, _CONTEXT))
            exc = exc.__context__
        else:
            found.append((exc, None))
            exc = None
    if exc is not None:  # a cycle: the oldest entry links to nothing
        found[-1] = (found[-1][0], None)
    return [_Exception(e, link) for e, link in reversed(found)]


def _request_rows(request: Request) -> tuple[list[tuple[str, str]], list[Any]]:
    """Return (summary rows, header pairs) for ``request``; never raise."""
    rows: list[tuple[str, str]] = []

    def add(label: str, get: Any) -> None:
        try:
            value = get()
        except Exception as e:
            value = f"<unavailable: {type(e).__name__}>"
        if value is not None:
            rows.append((label, value))

    add("Method", lambda: request.method)
    add("URL", lambda: request.url)
    add("Endpoint", lambda: request.url_rule.endpoint if request.url_rule else None)
    add("View args", lambda: safe_repr(request.view_args))
    add("Query keys", lambda: _keys(request.args))
    add("Content-Type", lambda: request.headers.get("Content-Type"))
    # Only a body the app already parsed is shown: parsing it here could block or
    # fail again on the input that caused the error.
    form = getattr(request, "_form", None)
    files = getattr(request, "_files", None)
    if form is None:
        rows.append(("Form", "(body not parsed by the app)"))
    else:
        rows.append(("Form keys", _keys(form)))
        rows.append(("File keys", _keys(files) if files is not None else "(none)"))
    try:
        headers = [(k, _truncate(v, HEADER_LIMIT)) for k, v in request.headers.items()]
    except Exception:
        headers = []
    return rows, headers


def _keys(mapping: Any, limit: int = 50) -> str:
    keys = list(mapping.keys())
    if not keys:
        return "(none)"
    shown = ", ".join(safe_repr(k, 80) for k in keys[:limit])
    if len(keys) > limit:
        shown += f", … ({len(keys) - limit} more)"
    return shown


# -- rendering -----------------------------------------------------------------------
_NOTE = (
    "Debug mode is on, so erlen shows this page instead of a generic 500 error."
    " It reveals source code and local values: never turn debug mode on in"
    " production. The page has no interactive console, so no PIN is needed."
)
_TEXT_NOTE = (
    "Frames of erlen, the standard library and installed packages are marked"
    " [library] and shortened; a browser (Accept: text/html) gets all details."
)


def render_text(error: BaseException, request: Request | None = None) -> str:
    """Render the debug page for ``error`` as plain text."""
    chain = _chain(error)
    last = chain[-1]
    headline = f"{last.type_name}: {last.message}" if last.message else last.type_name
    out = [f"erlen debug page: {headline}", "", _NOTE, _TEXT_NOTE, ""]
    for exc in chain:
        out.append("Traceback (most recent call last):")
        for i, frame in enumerate(exc.frames):
            if exc.omitted and i == _HEAD_FRAMES:
                out.append(f"  … {exc.omitted} frames omitted …")
            kind = "  [library]" if frame.library else ""
            out.append(
                f'  File "{frame.filename}", line {frame.lineno},'
                f" in {frame.function}{kind}"
            )
            for number, line in frame.source:
                if number == frame.lineno:
                    out.append(f"    > {number:>5} | {line}")
                elif not frame.library:  # library frames: the current line only
                    out.append(f"      {number:>5} | {line}")
            if frame.locals and not frame.library:
                out.append("    Locals:")
                out.extend(f"      {name} = {value}" for name, value in frame.locals)
        out.append(exc.summary)
        out.append("")
        if exc.link is not None:
            out.extend((exc.link, ""))
    if request is not None:
        rows, headers = _request_rows(request)
        out.append("Request:")
        out.extend(f"  {label}: {value}" for label, value in rows)
        out.append("  Headers:")
        out.extend(f"    {name}: {value}" for name, value in headers)
    return _clean("\n".join(out)) + "\n"


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#8b1a1a;color:#fff;padding:1.2em 2em}
header h1{margin:0;font-size:1.5em}header .msg{font:1.05em/1.4 monospace;white-space:pre-wrap;margin:.4em 0 0}
main{padding:1em 2em}.note{background:#fff6d6;border:1px solid #e8d48a;padding:.6em 1em}
h2{font-size:1.1em;margin:1.4em 0 .5em}.link{font-style:italic;color:#555;margin:1.4em 0}
.frame{background:#fff;border:1px solid #ddd;border-radius:4px;margin:.6em 0;overflow:hidden}
.frame h3{font:13px monospace;margin:0;padding:.5em .8em;background:#f0f0f3}
.frame.library{opacity:.7}.frame.library h3{background:#f6f6f6}details.libraries>summary{color:#666;cursor:pointer;margin:.5em 0}
pre{margin:0;padding:.4em .8em;font:13px/1.4 monospace;overflow-x:auto}
.current{background:#ffe3e3;display:block}
details{padding:.2em .8em .5em}summary{cursor:pointer;font-size:13px;color:#555}
table{border-collapse:collapse;font:13px monospace}
td,th{text-align:left;vertical-align:top;padding:.15em .8em .15em 0;white-space:pre-wrap;word-break:break-all}
th{color:#555;font-weight:normal}.summary{font:14px monospace;color:#8b1a1a;white-space:pre-wrap}
.omitted{color:#777;font-style:italic}
"""


def _e(text: Any) -> str:
    return html.escape(_clean(str(text)), quote=True)


def _html_frame(frame: _Frame) -> list[str]:
    kind = "library" if frame.library else "user"
    out = [
        f'<div class="frame {kind}"><h3>File &quot;{_e(frame.filename)}&quot;,'
        f" line {frame.lineno}, in {_e(frame.function)}</h3>"
    ]
    if frame.source:
        lines = []
        for number, line in frame.source:
            text = f"{number:>5}  {_e(line)}"
            if number == frame.lineno:
                text = f'<span class="current">{text}</span>'
            else:
                text += "\n"
            lines.append(text)
        out.append(f"<pre>{''.join(lines)}</pre>")
    if frame.locals:
        # Library frames start folded: the user's own code is what matters.
        state = "" if frame.library else " open"
        out.append(f"<details{state}><summary>Locals</summary><table>")
        out.extend(
            f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>"
            for name, value in frame.locals
        )
        out.append("</table></details>")
    out.append("</div>")
    return out


def _html_frames(exc: _Exception) -> list[str]:
    """Render a traceback's frames; runs of library frames fold into one block.

    What the reader wants first is their own code: erlen's, the standard
    library's and installed packages' frames stay one click away.
    """
    out: list[str] = []
    run: list[str] = []
    run_count = 0

    def flush() -> None:
        nonlocal run, run_count
        if run_count > 1:
            out.append(
                f'<details class="libraries"><summary>{run_count} library frames'
                " (erlen, the standard library, installed packages)</summary>"
            )
            out.extend(run)
            out.append("</details>")
        else:
            out.extend(run)
        run = []
        run_count = 0

    for i, frame in enumerate(exc.frames):
        if exc.omitted and i == _HEAD_FRAMES:
            flush()
            out.append(f'<p class="omitted">… {exc.omitted} frames omitted …</p>')
        if frame.library:
            run.extend(_html_frame(frame))
            run_count += 1
        else:
            flush()
            out.extend(_html_frame(frame))
    flush()
    return out


def render_html(error: BaseException, request: Request | None = None) -> str:
    """Render the debug page for ``error`` as HTML; every value is escaped."""
    chain = _chain(error)
    last = chain[-1]
    message = last.message
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{_e(last.type_name)} // erlen debug page</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<header><h1>{_e(last.type_name)}</h1><p class="msg">{_e(message)}</p>',
        "</header><main>",
        f'<p class="note">{_e(_NOTE)}</p>',
    ]
    for exc in chain:
        out.append("<h2>Traceback <small>(most recent call last)</small></h2>")
        out.extend(_html_frames(exc))
        out.append(f'<p class="summary">{_e(exc.summary)}</p>')
        if exc.link is not None:
            out.append(f'<p class="link">{_e(exc.link)}</p>')
    if request is not None:
        rows, headers = _request_rows(request)
        out.append("<h2>Request</h2><table>")
        out.extend(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
        out.append("</table><h2>Request headers</h2><table>")
        out.extend(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in headers)
        out.append("</table>")
    out.append("</main></body></html>\n")
    return "\n".join(out)


# -- debug-mode explanations ------------------------------------------------------------
def explain_exception(app: Erlen, error: Exception, request: Request) -> None:
    """Make ``error`` explain itself better; debug mode only.

    * a :class:`~werkzeug.exceptions.BadRequestKeyError` raised by
      ``request.form[key]`` or ``request.files[key]`` gets a description naming
      the keys that exist and, for files, the ``enctype`` a form needs;
    * a redirect answering a POST (or another unsafe method) gets a body saying
      why the URL redirects and what a client that does not follow it loses.

    Called by :meth:`erlen.Erlen.handle_user_exception` when ``app.debug``.
    """
    try:
        if isinstance(error, BadRequestKeyError):
            _explain_key_error(error, request)
        elif isinstance(error, RequestRedirect):
            _explain_redirect(app, error, request)
    except Exception:  # pragma: no cover - an explanation must never mask the error
        app.logger.debug("Could not explain %r", error, exc_info=True)


def _raising_mapping(error: BaseException) -> Any:
    """Return the ``self`` of the innermost frame (the multi-dict's ``__getitem__``)."""
    tb: TracebackType | None = error.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_locals.get("self")


def _explain_key_error(error: BadRequestKeyError, request: Request) -> None:
    source = _raising_mapping(error)
    if source is None:
        return
    form = getattr(request, "_form", None)
    files = getattr(request, "_files", None)
    if source is files and files is not None:
        which = "files"
    elif source is form and form is not None:
        which = "form"
    else:
        return
    key = error.args[0] if error.args else None
    shown = safe_repr(key, 80)
    mimetype = request.mimetype or "(none)"
    lines = [f"The key {shown} is not in request.{which}."]
    if which == "files":
        if mimetype != "multipart/form-data":
            lines.append(
                'Files are only sent by a form with enctype="multipart/form-data";'
                f" this request's Content-Type is {mimetype!r}, so request.files"
                " is empty."
            )
            if form is not None and key in form:
                lines.append(
                    "The browser sent only the file's name, as a text field:"
                    f" request.form[{shown}] == {safe_repr(form.get(key), 80)}."
                    ' Add enctype="multipart/form-data" to the <form> tag.'
                )
        elif form is not None and key in form:
            lines.append(
                f"{shown} arrived as a text field (request.form), not as a file:"
                ' is the input type="file"?'
            )
        else:
            lines.append(f"request.files has the keys: {_keys(files)}.")
            lines.append(
                'The <input type="file"> must have this name= attribute; an input'
                " without a name is not sent."
            )
    else:
        if files is not None and key in files:
            lines.append(f"{shown} was sent as a file: read request.files[{shown}].")
        elif mimetype not in _FORM_MIMETYPES:
            lines.append(
                f"request.form is empty: the request's Content-Type is {mimetype!r},"
                " and form fields are only read from"
                " 'application/x-www-form-urlencoded' or 'multipart/form-data'"
                " bodies."
            )
            if mimetype == "application/json" or mimetype.endswith("+json"):
                lines.append("Read a JSON body with request.get_json().")
            elif request.method in _SAFE_METHODS:
                lines.append(
                    f"A {request.method} request has no form body; query string"
                    " values are in request.args."
                )
        else:
            lines.append(f"request.form has the keys: {_keys(form)}.")
    lines.append(f"Use request.{which}.get({shown}) if the field is optional.")
    error.description = "\n".join(lines)


def _explain_redirect(app: Erlen, error: RequestRedirect, request: Request) -> None:
    method = request.method
    if method in _SAFE_METHODS:
        return
    response = app.redirect(error.new_url, error.code)
    target = html.escape(error.new_url)
    response.set_data(
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        f'<h1>Redirecting...</h1>\n<p>The canonical URL is <a href="{target}">'
        f"{target}</a>.</p>\n<p><strong>erlen debug mode:</strong> this"
        f" {html.escape(method)} request to {html.escape(request.path)} was"
        f" answered with {error.code} because the route's URL differs (usually"
        " a trailing slash: the rule ends with '/'). A 307/308 redirect keeps the"
        " method and the body, so clients that follow it send the request again;"
        " clients that do not follow redirects (curl without -L, fetch with"
        " redirect: 'manual') stop here and the body is not processed. Send the"
        " request to the canonical URL, for example by building the form's"
        " action with url_for().</p>\n"
    )
    error.response = response
