"""Notes: a small multi-user notes app, written the way we recommend erlen apps be.

``create_app`` is the app factory; ``erlen --app notes run`` finds and calls it.
Configuration comes, in order, from the defaults below, ``instance/config.py``
and ``NOTES_*`` environment variables (``NOTES_SECRET_KEY=...``), or from the
mapping a test passes in.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Mapping
from typing import Any

from werkzeug.exceptions import HTTPException

from erlen import Erlen, g, render_template, request

from . import api, auth, db, notes
from .live import Hub


def create_app(test_config: Mapping[str, Any] | None = None) -> Erlen:
    """Create and configure the app."""
    app = Erlen(__name__, instance_relative_config=True)
    app.config.from_mapping(
        DATABASE=os.path.join(app.instance_path, "notes.sqlite"),
        UPLOAD_FOLDER=os.path.join(app.instance_path, "attachments"),
        # Bigger requests are refused with the 413 page before they are read.
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SESSION_COOKIE_SAMESITE="Lax",
        LOG_LEVEL="INFO",
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("NOTES")
    else:
        app.config.from_mapping(test_config)

    os.makedirs(os.path.dirname(app.config["DATABASE"]) or ".", exist_ok=True)
    os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(app.instance_path)

    app.logger.setLevel(app.config["LOG_LEVEL"])
    # The live-update registry: one per app, so per server process.
    app.extensions["notes.hub"] = Hub()

    db.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(notes.bp)
    app.register_blueprint(api.bp)
    app.before_request(_start_timer)
    app.after_request(_log_request)
    app.register_error_handler(HTTPException, _http_error)
    app.add_template_filter(_when, "when")
    return app


def _instance_secret_key(instance_path: str) -> str:
    """Return the key kept in ``instance/secret_key``, creating it on first run.

    A random key per installation, so no deployment ever runs with a key that
    is published in the source, and sessions survive restarts.
    """
    os.makedirs(instance_path, exist_ok=True)
    path = os.path.join(instance_path, "secret_key")
    try:
        with open(path, encoding="ascii") as f:
            key = f.read().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key)
    return key


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _log_request(response):
    """Log one line per request: method, path, status, time and user."""
    started = g.get("request_started")
    elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
    user = g.get("user")
    # The path is logged as a repr: a client cannot forge log lines with CR/LF.
    logging.getLogger("notes.requests").info(
        "%s %r %s %.1fms user=%s",
        request.method,
        request.path,
        response.status_code,
        elapsed,
        user["username"] if user else "-",
    )
    return response


def _http_error(e: HTTPException):
    """Answer HTTP errors: JSON under /api/, the app's pages elsewhere."""
    if e.code is None or e.code < 400:
        return e  # redirects raised by routing pass through
    if request.path.startswith("/api/"):
        return api.error_response(e)
    template = {404: "errors/404.html", 500: "errors/500.html"}.get(
        e.code, "errors/error.html"
    )
    # Werkzeug's stock descriptions talk to developers; show ours instead.
    message = e.description if e.description != type(e).description else None
    return render_template(template, error=e, message=message), e.code


def _when(stamp: str) -> str:
    """Format a stored UTC timestamp for people: ``2025-03-01 14:05 UTC``."""
    return f"{stamp[:16].replace('T', ' ')} UTC" if stamp else ""
