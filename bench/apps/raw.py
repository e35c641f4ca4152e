"""Hand-written WSGI and ASGI callables: the floor every framework is measured against.

Each scenario is answered with the standard library (plus Jinja2 and itsdangerous for
the template and session scenarios): no framework, no routing table beyond a dict.
Shared logic returns ``(status, headers, body)``; a thin adapter per protocol writes it.
Imports ``scenarios`` only.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, parse_qsl

import scenarios as S

PROTOCOLS = ("wsgi", "asgi")

_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"
_HTML = "text/html; charset=utf-8"
_REASONS = {200: "200 OK", 404: "404 Not Found", 400: "400 Bad Request"}

Result = tuple[int, list[tuple[str, str]], bytes]


def version() -> str:
    return "-"


# -- protocol-free logic -------------------------------------------------------
def _json(obj: object, extra: list[tuple[str, str]] | None = None) -> Result:
    return 200, [("Content-Type", _JSON), *(extra or ())], json.dumps(obj).encode()


def _text(text: str, status: int = 200) -> Result:
    return status, [("Content-Type", _TEXT)], text.encode()


_USER = re.compile(r"/users/(\d+)\Z")


def _user(path: str) -> Result:
    m = _USER.match(path)
    if m is None:
        return _text("Not Found", 404)
    return _json(S.user_json(int(m.group(1))))


def _search(query: str) -> Result:
    args = parse_qs(query)
    return _json(
        {
            "q": args.get("q", [""])[0],
            "page": int(args.get("page", ["1"])[0]),
            "tags": args.get("tags", []),
            "sort": args.get("sort", ["asc"])[0],
        }
    )


def _form(body: bytes) -> Result:
    return _json(dict(parse_qsl(body.decode())))


_DISPOSITION = re.compile(rb'name="([^"]*)"(?:; filename="([^"]*)")?')


def _upload(content_type: str, body: bytes) -> Result:
    boundary = content_type.partition("boundary=")[2].encode()
    title = filename = None
    size = 0
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, data = part.partition(b"\r\n\r\n")
        m = _DISPOSITION.search(head)
        if m is None:
            return _text("Bad Request", 400)
        data = data[:-2]  # the CRLF before the next boundary
        if m.group(2) is not None:
            filename, size = m.group(2).decode(), len(data)
        elif m.group(1) == b"title":
            title = data.decode()
    return _json({"title": title, "filename": filename, "size": size})


_jinja_env = None


def _template() -> Result:
    global _jinja_env
    if _jinja_env is None:
        import jinja2

        _jinja_env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(S.TEMPLATE_DIR), autoescape=True
        )
    html = _jinja_env.get_template(S.TEMPLATE_NAME).render(
        title=S.TEMPLATE_TITLE, items=S.ITEMS
    )
    return 200, [("Content-Type", _HTML)], html.encode()


_signer = None


def _session(cookie_header: str) -> Result:
    global _signer
    if _signer is None:
        from itsdangerous import URLSafeSerializer

        _signer = URLSafeSerializer(S.SECRET_KEY, salt="session")
    data: dict = {}
    for pair in cookie_header.split(";"):
        name, _, value = pair.strip().partition("=")
        if name == "session":
            try:
                data = _signer.loads(value)
            except Exception:
                data = {}
    data["count"] = data.get("count", 0) + 1
    cookie = f"session={_signer.dumps(data)}; Path=/; HttpOnly"
    return (
        200,
        [("Content-Type", _TEXT), ("Set-Cookie", cookie)],
        str(data["count"]).encode(),
    )


_ROUTES = {S.route_path(i)[1:]: i for i in range(S.N_ROUTES)}


def _route(path: str) -> Result:
    parts = path.split("/")
    if len(parts) == 3 and parts[1] in _ROUTES and parts[2].isdigit():
        return _text(S.route_text(_ROUTES[parts[1]], int(parts[2])))
    return _text("Not Found", 404)


def _hooks() -> Result:
    # Three "before" steps store values, the view reads them, three "after" steps
    # add headers: the same work the frameworks' hook chains do, written inline.
    state = {"one": "1"}
    state["two"] = "2"
    state["three"] = "3"
    status, headers, body = _text(
        "hooks " + state["one"] + state["two"] + state["three"]
    )
    headers.append(("X-Hook-1", "1"))
    headers.append(("X-Hook-2", "2"))
    headers.append(("X-Hook-3", "3"))
    return status, headers, body


# -- WSGI ----------------------------------------------------------------------
def _wsgi_body(environ: dict) -> bytes:
    length = environ.get("CONTENT_LENGTH")
    return environ["wsgi.input"].read(int(length)) if length else b""


def _wsgi(logic):
    def app(environ, start_response):
        status, headers, body = logic(environ)
        headers.append(("Content-Length", str(len(body))))
        start_response(_REASONS[status], headers)
        return [body]

    return app


def wsgi_hello(environ, start_response):
    body = b"Hello, World!"
    start_response(
        "200 OK", [("Content-Type", _TEXT), ("Content-Length", str(len(body)))]
    )
    return [body]


_WSGI = {
    "hello": lambda: wsgi_hello,
    "json": lambda: _wsgi(lambda e: _user(e["PATH_INFO"])),
    "query": lambda: _wsgi(lambda e: _search(e.get("QUERY_STRING", ""))),
    "form": lambda: _wsgi(lambda e: _form(_wsgi_body(e))),
    "upload": lambda: _wsgi(lambda e: _upload(e["CONTENT_TYPE"], _wsgi_body(e))),
    "template": lambda: _wsgi(lambda e: _template()),
    "session": lambda: _wsgi(lambda e: _session(e.get("HTTP_COOKIE", ""))),
    "notfound": lambda: _wsgi(lambda e: _route(e["PATH_INFO"])),
    "hooks": lambda: _wsgi(lambda e: _hooks()),
    "routes": lambda: _wsgi(lambda e: _route(e["PATH_INFO"])),
}


# -- ASGI ----------------------------------------------------------------------
async def _asgi_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _header(scope, name: bytes) -> str:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return ""


def _asgi(logic, needs_body: bool = False):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return  # no lifespan support needed
        body_in = await _asgi_body(receive) if needs_body else b""
        status, headers, body = logic(scope, body_in)
        raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers]
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    return app


async def asgi_hello(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b"Hello, World!"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", _TEXT.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_ASGI = {
    "hello": lambda: asgi_hello,
    "json": lambda: _asgi(lambda s, b: _user(s["path"])),
    "query": lambda: _asgi(lambda s, b: _search(s["query_string"].decode("latin-1"))),
    "form": lambda: _asgi(lambda s, b: _form(b), needs_body=True),
    "upload": lambda: _asgi(
        lambda s, b: _upload(_header(s, b"content-type"), b), needs_body=True
    ),
    "template": lambda: _asgi(lambda s, b: _template()),
    "session": lambda: _asgi(lambda s, b: _session(_header(s, b"cookie"))),
    "notfound": lambda: _asgi(lambda s, b: _route(s["path"])),
    "hooks": lambda: _asgi(lambda s, b: _hooks()),
    "routes": lambda: _asgi(lambda s, b: _route(s["path"])),
}


def build(scenario: str, protocol: str):
    """Return the raw *protocol* callable for *scenario*."""
    return (_WSGI if protocol == "wsgi" else _ASGI)[scenario]()
