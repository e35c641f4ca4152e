"""End to end in a real browser: the notes example (examples/notes) served by
uvicorn on 127.0.0.1, driven by Playwright in Debian's Chromium.

Two browsers (separate processes and profiles, so separate cookies) log in as
the same user: a note created in one appears in the other without a reload.
Also checked: the debug page in debug mode and the plain 500 page in production,
both caused by a database file that is not a database.

Screenshots go to tests/browser/artifacts/; with ERLEN_UPDATE_SCREENSHOTS=1 the
app screenshot also replaces docs/images/notes.png (the README's picture), so a
normal test run leaves the work tree clean.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import require_service
from support import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = ROOT / "examples" / "notes"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
README_SCREENSHOT = ROOT / "docs" / "images" / "notes.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def playwright():
    if not os.path.exists(CHROMIUM):
        require_service(f"chromium: {CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service("chromium: the playwright package is not installed")
    with sync_playwright() as p:
        yield p


@pytest.fixture
def open_browser(playwright, tmp_path):
    """Start Chromium with a fresh profile; return its browser context."""
    contexts = []

    def open_browser(name: str):
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / f"profile-{name}"),  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1000, "height": 720},
            accept_downloads=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield open_browser
    for context in contexts:
        context.close()


@contextmanager
def serve_notes(tmp_path: Path, **config: str) -> Iterator[str]:
    """Serve the example with uvicorn on 127.0.0.1; yield its base URL.

    ``config`` becomes ``NOTES_*`` environment variables (the app reads them).
    """
    port = free_port()
    env = {
        **os.environ,
        "NOTES_DATABASE": str(tmp_path / "notes.sqlite"),
        "NOTES_UPLOAD_FOLDER": str(tmp_path / "attachments"),
        "NOTES_SECRET_KEY": "browser test key",
    }
    env.update({f"NOTES_{key}": value for key, value in config.items()})
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "notes:create_app",
            "--app-dir",
            str(EXAMPLE_DIR),
            "--interface",
            "asgi3",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        problem = wait_until_serving(proc, port, "/auth/login")
        if problem is not None:
            pytest.fail(
                f"uvicorn {problem}:\n"
                + (tmp_path / "server.log").read_text(errors="replace")
            )
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def log_in(page, base: str, username: str = "amy") -> None:
    page.goto(f"{base}/auth/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_register_login_create_live_update_download_logout(open_browser, tmp_path):
    from playwright.sync_api import expect

    attachment = tmp_path / "shopping-list.txt"
    attachment.write_bytes(b"milk\neggs\nbread\n")
    with serve_notes(tmp_path) as base:
        first = open_browser("first").new_page()
        second = open_browser("second").new_page()

        # Visitors are sent to log in; register from there.
        first.goto(f"{base}/")
        first.wait_for_url(f"{base}/auth/login?next=/")
        first.click("text=Create an account")
        first.fill("#username", "amy")
        first.fill("#password", "short")
        first.click("form button[type=submit]")
        expect(first.locator("#password-error")).to_contain_text(
            "Choose a password of 8 to 128 characters."
        )
        first.fill("#password", PASSWORD)
        first.click("form button[type=submit]")
        first.wait_for_url(f"{base}/auth/login")
        expect(first.locator(".flash.success")).to_have_text(
            "Your account is ready. Please log in."
        )

        log_in(first, base)
        expect(first.locator("h1")).to_have_text("Your notes")
        expect(first.locator(".who")).to_have_text("amy")

        # The second browser opens the list and waits.
        log_in(second, base)
        expect(second.locator("#live-status")).to_have_class("live on")
        second.evaluate("window.notReloaded = true")

        # Notes made through the API from the first browser arrive too.
        for title in ("Book the dentist", "Ideas for the weekend"):
            rv = first.context.request.post(
                f"{base}/api/notes", data={"title": title, "body": f"{title}."}
            )
            assert rv.status == 201, rv.text()
            expect(second.locator(".note-title", has_text=title)).to_be_visible()

        # Create a note with an attachment through the form.
        first.click("text=New note")
        first.wait_for_url(f"{base}/notes/new")
        first.fill("#title", "Shopping list")
        first.fill("#body", "For Saturday's market:\nmilk, eggs, bread")
        first.set_input_files("#attachment", str(attachment))
        first.click("text=Create note")
        first.wait_for_url(f"{base}/")
        expect(first.locator(".flash.success")).to_have_text("Created “Shopping list”.")

        # It appears in the second browser without a reload.
        arrived = second.locator("li.note", has_text="Shopping list")
        expect(arrived).to_be_visible()
        expect(arrived.locator(".attachment")).to_have_text("shopping-list.txt")
        assert second.evaluate("window.notReloaded") is True
        assert second.locator(".note-title").all_inner_texts() == [
            "Shopping list",
            "Ideas for the weekend",
            "Book the dentist",
        ]
        second.wait_for_timeout(1600)  # let the arrival highlight fade
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        second.screenshot(path=str(ARTIFACTS / "notes.png"))
        if os.environ.get("ERLEN_UPDATE_SCREENSHOTS") == "1":
            README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            second.screenshot(path=str(README_SCREENSHOT))

        # Download the attachment from the second browser.
        with second.expect_download() as download_info:
            arrived.locator(".attachment").click()
        download = download_info.value
        assert download.suggested_filename == "shopping-list.txt"
        assert Path(download.path()).read_bytes() == attachment.read_bytes()

        # Log out.
        first.click("text=Log out")
        first.wait_for_url(f"{base}/auth/login")
        expect(first.locator(".flash.info")).to_have_text("You have been logged out.")
        first.goto(f"{base}/")
        first.wait_for_url(f"{base}/auth/login?next=/")


def _break_database(tmp_path: Path) -> None:
    (tmp_path / "notes.sqlite").write_bytes(b"this is not an SQLite database" * 100)


def _submit_login(page, base: str):
    page.goto(f"{base}/auth/login")
    page.fill("#username", "amy")
    page.fill("#password", PASSWORD)
    with page.expect_response(f"{base}/auth/login") as response_info:
        page.click("form button[type=submit]")
    return response_info.value


def test_debug_page_in_debug_mode(open_browser, tmp_path):
    from playwright.sync_api import expect

    _break_database(tmp_path)
    with serve_notes(tmp_path, DEBUG="true") as base:
        page = open_browser("debug").new_page()
        response = _submit_login(page, base)
        assert response.status == 500
        expect(page).to_have_title("sqlite3.DatabaseError // erlen debug page")
        expect(page.locator("h1")).to_have_text("sqlite3.DatabaseError")
        expect(page.locator("body")).to_contain_text("file is not a database")
        expect(page.locator("body")).to_contain_text("_ensure_schema")  # a frame
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "debug-page.png"), full_page=True)


def test_plain_500_page_in_production(open_browser, tmp_path):
    from playwright.sync_api import expect

    _break_database(tmp_path)
    with serve_notes(tmp_path) as base:
        page = open_browser("production").new_page()
        response = _submit_login(page, base)
        assert response.status == 500
        expect(page.locator("h1")).to_have_text("Something went wrong")
        body = page.locator("body").inner_text()
        assert "DatabaseError" not in body
        assert "Traceback" not in body
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "500-page.png"), full_page=True)
    # The error was logged on the server's side instead.
    assert "file is not a database" in (tmp_path / "server.log").read_text()
