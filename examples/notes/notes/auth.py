"""Accounts: register, log in, log out; ``login_required``; the CSRF check.

Passwords are stored as salted scrypt hashes (``werkzeug.security``). Logging
in clears the session and issues a new one, so a session cookie captured
before login never carries the login (session fixation).

CSRF: every form carries ``csrf_token()``, a random value kept in the session;
a POST from a page of another site cannot know it and is refused with a 400.
The JSON API is exempt: it only accepts ``application/json`` bodies and the
methods PATCH and DELETE, which another site's page cannot send with the
user's cookies without a CORS preflight that this app never approves.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
import sqlite3
from collections.abc import Callable
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from erlen import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from .db import get_db, now

bp = Blueprint("auth", __name__, url_prefix="/auth")

USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,32}")
PASSWORD_MIN, PASSWORD_MAX = 8, 128
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Checked against when the username is unknown, so that a login attempt takes
# as long for a missing user as for a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Redirect visitors who are not logged in to the login page."""

    @functools.wraps(view)
    def wrapped(**kwargs: Any) -> Any:
        if g.user is None:
            return redirect(url_for("auth.login", next=request.path))
        return view(**kwargs)

    return wrapped


@bp.app_template_global()
def csrf_token() -> str:
    """Return this session's CSRF token, creating it on first use."""
    token = session.get("_csrf_token")
    if token is None:
        token = session["_csrf_token"] = secrets.token_urlsafe(32)
    return token


@bp.before_app_request
def load_logged_in_user() -> None:
    user_id = session.get("user_id")
    g.user = None
    if user_id is not None:
        g.user = (
            get_db()
            .execute("SELECT id, username FROM user WHERE id = ?", (user_id,))
            .fetchone()
        )


@bp.before_app_request
def check_csrf() -> None:
    if (
        request.method in _SAFE_METHODS
        or request.endpoint is None  # unrouted: let the 404/405 through
        or request.blueprint == "api"
    ):
        return
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get("_csrf_token", "")
    # Compared as bytes: compare_digest refuses non-ASCII str (a 500 otherwise).
    if not (
        sent
        and isinstance(expected, str)
        and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        abort(
            400,
            description="This form has expired or was sent from another site."
            " Go back, reload the page and try again.",
        )


@bp.route("/register", methods=("GET", "POST"))
def register():
    if g.user is not None:
        return redirect(url_for("notes.index"))
    errors: dict[str, str] = {}
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        if not USERNAME_RE.fullmatch(username):
            errors["username"] = (
                "Choose a username of 3 to 32 letters, digits, '.', '_' or '-'."
            )
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            errors["password"] = (
                f"Choose a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters."
            )
        if not errors:
            db = get_db()
            try:
                db.execute(
                    "INSERT INTO user (username, password_hash, created)"
                    " VALUES (?, ?, ?)",
                    (username, generate_password_hash(password), now()),
                )
                db.commit()
            except sqlite3.IntegrityError:
                errors["username"] = f"The username {username} is already taken."
            else:
                flash("Your account is ready. Please log in.", "success")
                return redirect(url_for("auth.login"))
    status = 422 if errors else 200
    return render_template(
        "auth/register.html", errors=errors, username=username
    ), status


@bp.route("/login", methods=("GET", "POST"))
def login():
    next_url = _safe_next(request.values.get("next"))
    if g.user is not None:
        return redirect(next_url or url_for("notes.index"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        user = (
            get_db()
            .execute(
                "SELECT id, password_hash FROM user WHERE username = ?", (username,)
            )
            .fetchone()
        )
        if user is None:
            check_password_hash(_DUMMY_HASH, password)
        elif check_password_hash(user["password_hash"], password):
            # Session fixation: nothing from before the login survives it, and
            # the CSRF token is replaced too.
            session.clear()
            session["user_id"] = user["id"]
            return redirect(next_url or url_for("notes.index"))
        error = "Incorrect username or password."
    page = render_template(
        "auth/login.html", error=error, username=username, next_url=next_url
    )
    return page, (422 if error else 200)


@bp.post("/logout")
def logout():
    session.clear()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this site, else None."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or not target.isprintable()
        or len(target) > 2000
    ):
        return None
    return target
