"""Tests for erlen.debug: the debug page and the debug-mode explanations.

The behaviour tests use the shared ``app``/``client`` fixtures (both pipelines)
with TESTING switched off, as a developer's server would run the app.
"""

from __future__ import annotations

import logging
import re

import pytest
from werkzeug.exceptions import BadRequest

from erlen import Erlen, request
from erlen.debug import (
    REPR_LIMIT,
    host_is_trusted,
    render_html,
    render_text,
    safe_repr,
    wants_html,
)

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HOSTILE = "<script>alert('x')</script>"


class DatabaseError(Exception):
    pass


def _fail_inner(order_id):
    # marker: inner-source-line
    lookup = {"order": order_id, "note": HOSTILE}
    return lookup["missing-" + str(order_id)]


@pytest.fixture
def debug_app(app):
    app.config["TESTING"] = False
    app.debug = True

    @app.route("/boom/<int:order_id>", methods=["GET", "POST"])
    def boom(order_id):
        if request.args.get("read_form"):
            request.form.get("name")
        payload = HOSTILE
        long_text = "y" * 5000
        try:
            _fail_inner(order_id)
        except KeyError as e:
            raise DatabaseError(f"order {order_id} <b>not</b> found") from e
        return payload + long_text

    @app.route("/implicit")
    def implicit():
        try:
            raise ValueError("first problem")
        except ValueError:
            return 1 / 0

    @app.route("/ok")
    def ok():
        return "fine"

    return app


# -- the page ---------------------------------------------------------------------------
def test_html_page(debug_app, client):
    response = client.post(
        "/boom/7?q=1&read_form=1",
        data={"name": "ann", "city": "x"},
        headers={"Accept": BROWSER, "X-Token": "t-123"},
    )
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    body = response.get_data(as_text=True)
    # The exception chain, oldest first, with Python's wording.
    assert "<h1>test_debug.DatabaseError</h1>" in body
    assert body.index("KeyError: &#x27;missing-7&#x27;") < body.index(
        "test_debug.DatabaseError: order 7"
    )
    assert "The above exception was the direct cause of the following" in body
    # Source lines around each frame, the current line marked.
    assert "# marker: inner-source-line" in body
    assert re.search(r'<span class="current">\s*\d+  .*lookup\[', body)
    # Locals, reprs truncated.
    assert "<th>order_id</th><td>7</td>" in body
    assert "<th>long_text</th>" in body
    assert "y" * 5000 not in body
    assert re.search(r"<th>long_text</th><td>&#x27;y{20,}\.\.\.y{20,}&#x27;</td>", body)
    # The request.
    assert "http://localhost/boom/7?q=1&amp;read_form=1" in body
    assert "<th>Method</th><td>POST</td>" in body
    assert "<th>X-Token</th><td>t-123</td>" in body
    assert "<th>Form keys</th><td>&#x27;name&#x27;, &#x27;city&#x27;</td>" in body
    assert "<th>Query keys</th><td>&#x27;q&#x27;, &#x27;read_form&#x27;</td>" in body


def test_unread_body_is_not_parsed_for_the_page(debug_app, client):
    body = client.post("/boom/2", data={"name": "ann"}).text
    assert "  Form: (body not parsed by the app)" in body
    assert "no interactive console, so no PIN is needed" in body


def test_html_escapes_hostile_values(debug_app, client):
    response = client.get("/boom/1", headers={"Accept": "text/html", "X-Evil": HOSTILE})
    body = response.get_data(as_text=True)
    assert "<script>" not in body
    assert "<b>not</b>" not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body  # header
    assert "&lt;b&gt;not&lt;/b&gt; found" in body  # exception message
    assert "<th>payload</th><td>&quot;&lt;script&gt;alert(" in body  # local's repr
    assert body.count("<script") == 0


def test_implicit_chain_wording(debug_app, client):
    body = client.get("/implicit", headers={"Accept": "text/html"}).text
    assert "During handling of the above exception, another exception" in body
    assert body.index("ValueError: first problem") < body.index(
        "ZeroDivisionError: division by zero"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "*/*"},
        {"Accept": "*/*", "User-Agent": "curl/8.5.0"},
        {},
        {"Accept": "application/json"},
        {"Accept": "text/plain, text/html;q=0.5"},
    ],
)
def test_text_page_for_non_browsers(debug_app, client, headers):
    response = client.get("/boom/3", headers=headers)
    assert response.status_code == 500
    assert response.mimetype == "text/plain"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.text
    assert body.startswith("erlen debug page: test_debug.DatabaseError: order 3")
    assert "Traceback (most recent call last):" in body
    assert "The above exception was the direct cause" in body
    assert re.search(r"    >\s+\d+ \|\s+return lookup\[", body)
    assert "# marker: inner-source-line" in body
    assert "      order_id = 3" in body
    assert f"      payload = {HOSTILE!r}" in body
    assert "  Method: GET" in body
    assert "  URL: http://localhost/boom/3" in body
    # Library frames (erlen's pipeline) are marked and shortened.
    assert "[library]" in body


def test_text_page_escapes_control_characters(debug_app, client):
    body = client.get("/boom/3", headers={"X-Evil": "a\x1b[31mred"}).text
    assert "\x1b" not in body
    assert "X-Evil: a\\x1b[31mred" in body


def test_exception_is_logged(debug_app, client, caplog):
    with caplog.at_level(logging.ERROR):
        client.get("/boom/5")
    record = next(r for r in caplog.records if r.exc_info)
    assert "/boom/5" in record.getMessage()
    assert record.exc_info[0] is DatabaseError


def test_after_request_hooks_do_not_run_on_the_page(debug_app, client):
    seen = []

    @debug_app.after_request
    def hook(response):
        seen.append(response.status_code)
        return response

    client.get("/ok")
    client.get("/boom/1")
    assert seen == [200]


# -- when the page is shown -------------------------------------------------------------
def test_production_never_shows_it(debug_app, client):
    debug_app.debug = False
    response = client.get("/boom/9", headers={"Accept": BROWSER})
    assert response.status_code == 500
    body = response.text
    assert "Internal Server Error" in body
    for secret in ("Traceback", "DatabaseError", "order_id", "&lt;script", "lookup"):
        assert secret not in body


def test_testing_still_raises(debug_app, client):
    debug_app.config["TESTING"] = True
    with pytest.raises(DatabaseError):
        client.get("/boom/1")


def test_debug_page_switched_off_raises(debug_app, client):
    debug_app.config["DEBUG_PAGE"] = False
    with pytest.raises(DatabaseError):
        client.get("/boom/1")


def test_explicit_propagate_exceptions_wins(debug_app, client):
    @debug_app.errorhandler(500)
    def handler(e):
        return "custom 500", 500

    debug_app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(DatabaseError):
        client.get("/boom/1")
    debug_app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom/1")
    assert response.text == "custom 500"


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("api.localhost:8000", True),
        ("127.0.0.1:5000", True),
        ("192.168.1.20", True),
        ("[::1]:5000", True),
        ("attacker.example", False),
        ("attacker.example:5000", False),
        ("localhost.attacker.example", False),
    ],
)
def test_page_only_for_trusted_hosts(debug_app, client, caplog, host, shown):
    with caplog.at_level(logging.WARNING):
        response = client.get("/boom/1", headers={"Host": host})
    assert response.status_code == 500
    assert ("Traceback" in response.text) is shown
    if not shown:
        assert "order_id" not in response.text
        assert any("Debug page not shown" in r.getMessage() for r in caplog.records)


def test_trusted_hosts_and_server_name_allow_a_name(debug_app, client):
    debug_app.config["TRUSTED_HOSTS"] = [".dev.test"]
    response = client.get("/boom/1", headers={"Host": "shop.dev.test"})
    assert "Traceback" in response.text
    debug_app.config["TRUSTED_HOSTS"] = None
    debug_app.config["SERVER_NAME"] = "myapp.test:5000"
    with debug_app.test_request_context(headers={"Host": "myapp.test:5000"}):
        assert host_is_trusted(debug_app, request)
    with debug_app.test_request_context(headers={"Host": "other.test"}):
        assert not host_is_trusted(debug_app, request)


# -- units -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (BROWSER, True),
        ("text/html", True),
        ("application/xhtml+xml", True),
        ("*/*", False),
        (None, False),
        ("", False),
        ("text/html;q=0", False),
        ("text/plain, text/html;q=0.5", False),
        ("text/plain;q=0.5, text/html", True),
        ("application/json, */*", False),
        ("x/y," * 50_000 + "text/html", False),  # only a bounded prefix is read
    ],
)
def test_wants_html(accept, expected):
    assert wants_html(accept) is expected


def test_safe_repr():
    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr")

    assert safe_repr(Broken()).startswith("<Broken instance at 0x")  # no raise
    long = safe_repr("x" * 10_000)
    assert len(long) <= REPR_LIMIT and "..." in long
    odd = type("Odd", (), {"__repr__": lambda self: "z" * 1000})()
    assert safe_repr(odd, 50) == "z" * 49 + "…"
    huge = safe_repr(list(range(1_000_000)))
    assert huge.startswith("[0, 1, 2") and len(huge) < 60
    assert safe_repr(42) == "42"


def _raise_chain():
    try:
        raise KeyError("inner")
    except KeyError as e:
        raise ValueError("outer") from e


def test_render_without_request():
    try:
        _raise_chain()
    except ValueError as e:
        text = render_text(e)
        page = render_html(e)
    assert "KeyError: 'inner'" in text and "ValueError: outer" in text
    assert "\nRequest:\n" not in text
    assert "<h2>Request</h2>" not in page
    assert page.startswith("<!doctype html>")


def test_context_cycle_terminates():
    a, b = ValueError("a"), TypeError("b")
    a.__context__ = b
    b.__context__ = a
    text = render_text(a)
    assert text.count("Traceback (most recent call last):") == 2


def test_suppressed_context_is_hidden():
    try:
        try:
            raise KeyError("hidden")
        except KeyError:
            raise ValueError("shown") from None
    except ValueError as e:
        text = render_text(e)
    assert "\nKeyError: 'hidden'\n" not in text
    assert len(re.findall(r"^Traceback \(most recent call last\):$", text, re.M)) == 1
    assert "ValueError: shown" in text


def test_deep_tracebacks_are_cut():
    def recurse(n):
        if n == 0:
            raise RuntimeError("deep")
        return recurse(n - 1)

    try:
        recurse(200)
    except RuntimeError as e:
        text = render_text(e)
        page = render_html(e)
    assert re.search(r"… \d+ frames omitted …", text)
    frames = re.findall(r'^  File ".*", line \d+, in (.*)$', text, re.M)
    assert len(frames) == 70  # the first 20 and the last 50
    assert frames[0] == "test_deep_tracebacks_are_cut"
    assert "frames omitted" in page


def test_module_level_frames_show_no_globals():
    namespace = {"SECRET_GLOBAL": "not-a-local"}
    try:
        exec(compile("1 / 0", "<module-code>", "exec"), namespace)
    except ZeroDivisionError as e:
        text = render_text(e)
    lines = text.splitlines()
    at = lines.index('  File "<module-code>", line 1, in <module>')
    assert lines[at + 1] == "ZeroDivisionError: division by zero"  # no locals


def test_exception_group_lists_members():
    group = ExceptionGroup("several", [ValueError("one"), KeyError("two")])
    text = render_text(group)
    assert "ValueError: one" in text and "KeyError: 'two'" in text


def test_unprintable_exception():
    class Odd(Exception):
        def __str__(self):
            raise RuntimeError("no str")

    page = render_html(Odd())
    assert "&lt;str() of the exception failed&gt;" in page


# -- debug helpers: request.form / request.files KeyErrors ---------------------------------
@pytest.fixture
def form_app(debug_app):
    @debug_app.route("/form", methods=["GET", "POST"])
    def form_view():
        return request.form[request.args.get("key", "missing")]

    @debug_app.route("/file", methods=["POST"])
    def file_view():
        return request.files[request.args.get("key", "photo")].filename

    @debug_app.route("/arg")
    def arg_view():
        return request.args["nope"]

    return debug_app


def test_form_key_error_lists_keys(form_app, client):
    body = client.post("/form", data={"name": "a", "email": "b"}).text
    assert "BadRequestKeyError" in body
    assert "The key 'missing' is not in request.form." in body
    assert "request.form has the keys: 'name', 'email'." in body
    assert "Use request.form.get('missing') if the field is optional." in body
    assert "KeyError: 'missing'" in body


def test_form_key_error_for_json_body(form_app, client):
    body = client.post("/form", json={"missing": 1}).text
    assert "request.form is empty: the request's Content-Type is" in body
    assert "'application/json'" in body
    assert "Read a JSON body with request.get_json()." in body


def test_form_key_error_on_get(form_app, client):
    body = client.get("/form?key=q&q=1").text
    assert "A GET request has no form body" in body
    assert "request.args" in body


def test_form_key_sent_as_file(form_app, client):
    data = {"upload": (__import__("io").BytesIO(b"x"), "a.txt")}
    body = client.post("/form?key=upload", data=data).text
    assert "'upload' was sent as a file: read request.files['upload']." in body


def test_files_key_error_explains_enctype(form_app, client):
    body = client.post("/file", data={"photo": "cat.png"}).text
    assert 'enctype="multipart/form-data"' in body
    assert "'application/x-www-form-urlencoded'" in body
    assert "request.form['photo'] == 'cat.png'" in body


def test_files_key_error_in_multipart(form_app, client):
    import io

    def data():
        return {"other": (io.BytesIO(b"x"), "b.txt"), "photo_name": "text"}

    body = client.post("/file", data=data()).text
    assert "request.files has the keys: 'other'." in body
    assert 'The <input type="file"> must have this name=' in body
    body = client.post("/file?key=photo_name", data=data()).text
    assert "arrived as a text field (request.form), not as a file" in body


def test_other_key_errors_are_not_explained(form_app, client):
    body = client.get("/arg").text
    assert "KeyError: 'nope'" in body
    assert "is not in request." not in body


def test_explanation_in_the_400_page(form_app, client):
    # Debug mode, but bad-request errors not trapped: a 400 page, explained.
    form_app.config["TRAP_BAD_REQUEST_ERRORS"] = False
    response = client.post("/form", data={"name": HOSTILE})
    assert response.status_code == 400
    assert "request.form has the keys: &#39;name&#39;." in response.text
    assert "<script>" not in response.text


def test_no_explanation_in_production(form_app, client):
    form_app.debug = False
    response = client.post("/form", data={"name": "a"})
    assert response.status_code == 400
    assert "request.form" not in response.text
    assert BadRequest.description in response.text


# -- debug helpers: redirected POST -----------------------------------------------------
@pytest.fixture
def slash_app(debug_app):
    @debug_app.route("/items/", methods=["GET", "POST"])
    def items():
        return request.method

    return debug_app


def test_redirected_post_explains_itself(slash_app, client):
    response = client.post("/items", data={"a": "1"})
    assert response.status_code == 308
    assert response.headers["Location"] == "http://localhost/items/"
    body = response.text
    assert "erlen debug mode:" in body
    assert "POST request to /items was answered with 308" in body
    assert "curl without -L" in body
    # The method and body are kept when the redirect is followed.
    followed = client.post("/items", data={"a": "1"}, follow_redirects=True)
    assert followed.text == "POST"


def test_redirected_get_and_production_post_are_plain(slash_app, client):
    response = client.get("/items")
    assert response.status_code == 308
    assert "erlen debug mode" not in response.text
    slash_app.debug = False
    response = client.post("/items")
    assert response.status_code == 308
    assert "erlen debug mode" not in response.text


def test_page_for_error_without_erlen_frames():
    app = Erlen("standalone")
    app.debug = True
    response = None
    with app.test_request_context("/x", headers={"Accept": "text/html"}):
        try:
            raise OSError("disk full")
        except OSError as e:
            response = app.handle_exception(e)
    assert response.status_code == 500
    assert "OSError" in response.get_data(as_text=True)


def test_library_frames_fold_into_one_block():
    from erlen.debug import render_html

    def user_code():
        import json

        json.loads("{not json")  # raises inside the standard library

    try:
        user_code()
    except ValueError as e:
        page = render_html(e)
    assert '<details class="libraries">' in page
    assert "library frames" in page
    # The user's own frame stays outside the folded block.
    user_at = page.index("user_code")
    fold_at = page.index('<details class="libraries">')
    assert user_at < fold_at
