"""Define the benchmark scenarios: the request each sends, the response it expects.

Every framework's app (``apps/<framework>.py``) implements the same behaviour for each
scenario; the harness sends the request defined here and checks the answer with the
scenario's ``check`` before timing anything. The shared data the apps serve (items for
the template, form fields, upload bytes, the secret key) lives here too so that every
app serves exactly the same thing.

Imports nothing from erlen; imported by ``inproc``, ``e2e``, ``run``, ``profile``
and the apps.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE_DIR = os.path.join(HERE, "apps", "templates")
TEMPLATE_NAME = "items.html"

# -- data every app serves ------------------------------------------------------
SECRET_KEY = "erlen-bench-secret-key-012345678"  # 32 chars: also a valid AES key
HELLO = "Hello, World!"
ITEMS = [{"id": i, "name": f"item {i}", "price": i * 3 + 0.5} for i in range(50)]
TEMPLATE_TITLE = "Fifty items"
FORM_FIELDS = {f"field{i}": f"value {i}" for i in range(10)}
UPLOAD_TITLE = "report"
UPLOAD_FILENAME = "data.bin"
UPLOAD_BYTES = (bytes(range(256)) * 391)[:100_000]  # 100 kB
N_ROUTES = 100
QUERY = "q=erlen&page=3&tags=a&tags=b&tags=c&sort=desc"
QUERY_ECHO = {"q": "erlen", "page": 3, "tags": ["a", "b", "c"], "sort": "desc"}
USER_ID = 42
ROUTE_ITEM_ID = 123


def user_json(user_id: int) -> dict:
    """Return the JSON object the ``json`` scenario's view returns for *user_id*."""
    return {"id": user_id, "name": f"user {user_id}", "active": True}


def route_text(index: int, item_id: int) -> str:
    """Return the body the view of route number *index* returns for *item_id*."""
    return f"resource{index} item {item_id}"


def route_path(index: int) -> str:
    """Return the static prefix of route *index* (its rule adds ``/<int:item_id>``)."""
    return f"/resource{index}"


HOOK_HEADERS = (("x-hook-1", "1"), ("x-hook-2", "2"), ("x-hook-3", "3"))
HOOK_BODY = "hooks 123"  # the view joins what the three before-hooks stored


# -- multipart body ------------------------------------------------------------
BOUNDARY = "----erlenbench7MA4YWxkTrZu0gW"


def _multipart_body() -> bytes:
    b = BOUNDARY.encode()
    return b"".join(
        [
            b"--" + b + b"\r\n",
            b'Content-Disposition: form-data; name="title"\r\n\r\n',
            UPLOAD_TITLE.encode() + b"\r\n",
            b"--" + b + b"\r\n",
            b'Content-Disposition: form-data; name="file"; filename="'
            + UPLOAD_FILENAME.encode()
            + b'"\r\n',
            b"Content-Type: application/octet-stream\r\n\r\n",
            UPLOAD_BYTES + b"\r\n",
            b"--" + b + b"--\r\n",
        ]
    )


MULTIPART_BODY = _multipart_body()
FORM_BODY = "&".join(
    f"{k}={v.replace(' ', '+')}" for k, v in FORM_FIELDS.items()
).encode()


# -- responses and checks ------------------------------------------------------
@dataclass
class Response:
    """One response as the harness saw it: status, lower-cased headers, whole body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of header *name* (lower-case), or None."""
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def cookies(self) -> str:
        """Return the ``Set-Cookie`` pairs of this response as one ``Cookie`` header."""
        pairs = [
            v.split(";", 1)[0].strip() for k, v in self.headers if k == "set-cookie"
        ]
        return "; ".join(p for p in pairs if p)


Check = Callable[[Response], "str | None"]


def _short(body: bytes) -> str:
    text = body[:80].decode("utf-8", "replace")
    return repr(text) + ("…" if len(body) > 80 else "")


def expect_text(text: str) -> Check:
    """Check the body is exactly *text* (UTF-8)."""
    want = text.encode()

    def check(r: Response) -> str | None:
        if r.body != want:
            return f"body {_short(r.body)}, expected {text!r}"
        return None

    return check


def expect_json(obj: object) -> Check:
    """Check the body parses as JSON equal to *obj* and is labelled as JSON."""

    def check(r: Response) -> str | None:
        ctype = r.header("content-type") or ""
        if "json" not in ctype:
            return f"content-type {ctype!r} is not JSON"
        try:
            got = json.loads(r.body)
        except ValueError:
            return f"body is not JSON: {_short(r.body)}"
        if got != obj:
            return f"JSON {got!r}, expected {obj!r}"
        return None

    return check


_WS = re.compile(rb"\s+")


def _squash(body: bytes) -> bytes:
    return _WS.sub(b" ", body).strip()


def _expected_html() -> bytes:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True
    )
    html = env.get_template(TEMPLATE_NAME).render(title=TEMPLATE_TITLE, items=ITEMS)
    return _squash(html.encode())


def expect_html() -> Check:
    """Check the body is the rendered template (whitespace runs compared as one)."""
    want: list[bytes] = []

    def check(r: Response) -> str | None:
        if not want:
            want.append(_expected_html())
        if _squash(r.body) != want[0]:
            return f"rendered body differs: {_short(_squash(r.body))}"
        return None

    return check


def expect_status_only() -> Check:
    """Accept any body: each framework words its own error page."""

    def check(r: Response) -> str | None:
        return None

    return check


def expect_hooks() -> Check:
    """Check the view saw the before-hooks' values and the after-hooks' headers."""
    text = expect_text(HOOK_BODY)

    def check(r: Response) -> str | None:
        err = text(r)
        if err:
            return err
        for name, value in HOOK_HEADERS:
            if r.header(name) != value:
                return f"header {name} is {r.header(name)!r}, expected {value!r}"
        return None

    return check


def expect_session(count: int) -> Check:
    """Check the counter read from the session and that a new cookie was written."""
    text = expect_text(str(count))

    def check(r: Response) -> str | None:
        err = text(r)
        if err:
            return err
        if not r.cookies():
            return "no Set-Cookie: the session was not written"
        return None

    return check


# -- the scenarios -------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """One request and what every framework must answer to it."""

    name: str
    title: str
    method: str
    path: str
    check: Check
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    status: int = 200
    # Session: first send the request without a cookie (expecting `prime_check`),
    # then time the request carrying the cookie that answer set.
    prime_check: Check | None = None
    needs: str = ""  # feature a framework must have (templates, sessions)
    extra: dict = field(default_factory=dict)


SCENARIOS: list[Scenario] = [
    Scenario("hello", "plain-text hello", "GET", "/", expect_text(HELLO)),
    Scenario(
        "json",
        "JSON with an int path parameter",
        "GET",
        f"/users/{USER_ID}",
        expect_json(user_json(USER_ID)),
    ),
    Scenario(
        "query",
        "query string echoed as JSON",
        "GET",
        "/search",
        expect_json(QUERY_ECHO),
        query=QUERY,
    ),
    Scenario(
        "form",
        "urlencoded POST, 10 fields",
        "POST",
        "/form",
        expect_json(FORM_FIELDS),
        headers=(("content-type", "application/x-www-form-urlencoded"),),
        body=FORM_BODY,
    ),
    Scenario(
        "upload",
        "multipart upload, 100 KB",
        "POST",
        "/upload",
        expect_json(
            {
                "title": UPLOAD_TITLE,
                "filename": UPLOAD_FILENAME,
                "size": len(UPLOAD_BYTES),
            }
        ),
        headers=(("content-type", f"multipart/form-data; boundary={BOUNDARY}"),),
        body=MULTIPART_BODY,
    ),
    Scenario(
        "template",
        "Jinja template, 50-item loop",
        "GET",
        "/items",
        expect_html(),
        needs="templates",
    ),
    Scenario(
        "session",
        "session read + write (signed cookie)",
        "GET",
        "/counter",
        expect_session(2),
        prime_check=expect_session(1),
        needs="sessions",
    ),
    Scenario(
        "notfound",
        "404 in a 100-route app",
        "GET",
        f"/missing/{ROUTE_ITEM_ID}",
        expect_status_only(),
        status=404,
    ),
    Scenario("hooks", "3 before + 3 after hooks", "GET", "/", expect_hooks()),
    Scenario(
        "routes",
        "last dynamic route of 100",
        "GET",
        f"{route_path(N_ROUTES - 1)}/{ROUTE_ITEM_ID}",
        expect_text(route_text(N_ROUTES - 1, ROUTE_ITEM_ID)),
    ),
]

BY_NAME = {s.name: s for s in SCENARIOS}


def get(name: str) -> Scenario:
    """Return the scenario called *name*, or raise KeyError listing the valid names."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"unknown scenario {name!r}; choose from {', '.join(BY_NAME)}"
        ) from None
