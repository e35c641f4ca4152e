"""Notes in the database, their attachments on disk, and what the views share.

The HTML views (``notes.py``) and the JSON API (``api.py``) both go through
these functions, so validation and live updates cannot differ between them:
every successful write is published to the user's open pages (``live.py``).

Attachments are stored in ``UPLOAD_FOLDER`` under a random name the server
chooses. The client's file name is never used as a path; it is kept in the
database only to be offered back as the download name.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import FileStorage

from erlen import abort, current_app, url_for

from .db import get_db, now

TITLE_MAX = 200
BODY_MAX = 20_000
FILENAME_MAX = 255

_COLUMNS = (
    "id, user_id, title, body, created, updated,"
    " attachment_name, attachment_key, attachment_size"
)


def validate(data: Mapping[str, Any], partial: bool = False) -> tuple[dict, dict]:
    """Check a note's fields; return ``(clean values, errors by field)``.

    With ``partial``, fields that are absent are left out instead of required.
    """
    clean: dict[str, str] = {}
    errors: dict[str, str] = {}
    if "title" in data or not partial:
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            errors["title"] = "A note needs a title."
        elif len(title.strip()) > TITLE_MAX:
            errors["title"] = f"Keep the title under {TITLE_MAX} characters."
        else:
            clean["title"] = title.strip()
    if "body" in data or not partial:
        body = data.get("body", "")
        if not isinstance(body, str):
            errors["body"] = "The text must be a string."
        elif len(body) > BODY_MAX:
            errors["body"] = f"Keep the text under {BODY_MAX:,} characters."
        else:
            # Browsers send CRLF line breaks in forms; store one kind.
            clean["body"] = body.replace("\r\n", "\n")
    return clean, errors


def list_notes(user_id: int) -> list[sqlite3.Row]:
    """Return the user's notes, newest first."""
    return (
        get_db()
        .execute(
            f"SELECT {_COLUMNS} FROM note WHERE user_id = ? ORDER BY id DESC",
            (user_id,),
        )
        .fetchall()
    )


def get_note(note_id: int, user_id: int) -> sqlite3.Row:
    """Return the user's note, or abort with 404 (also for other users' notes)."""
    note = (
        get_db()
        .execute(
            f"SELECT {_COLUMNS} FROM note WHERE id = ? AND user_id = ?",
            (note_id, user_id),
        )
        .fetchone()
    )
    if note is None:
        abort(404, description=f"There is no note {note_id}.")
    return note


def create_note(
    user_id: int, title: str, body: str, upload: FileStorage | None = None
) -> sqlite3.Row:
    """Store a new note (and its attachment) and tell the user's open pages."""
    attachment = _save_upload(upload)
    db = get_db()
    stamp = now()
    try:
        cur = db.execute(
            "INSERT INTO note (user_id, title, body, created, updated,"
            " attachment_name, attachment_key, attachment_size)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (user_id, title, body, stamp, stamp, *attachment),
        )
        db.commit()
    except BaseException:
        _remove_file(attachment[1])
        raise
    note = get_note(cur.lastrowid, user_id)  # type: ignore[arg-type]
    _publish(user_id, {"type": "created", "note": to_json(note)})
    return note


def update_note(
    note: sqlite3.Row,
    changes: Mapping[str, str],
    upload: FileStorage | None = None,
    remove_attachment: bool = False,
) -> sqlite3.Row:
    """Apply ``changes`` (title/body) and attachment changes to ``note``."""
    values = {k: changes[k] for k in ("title", "body") if k in changes}
    new_file = _save_upload(upload)
    old_key = note["attachment_key"]
    if new_file[1] is not None or remove_attachment:
        values.update(
            attachment_name=new_file[0],
            attachment_key=new_file[1],
            attachment_size=new_file[2],
        )
    else:
        old_key = None  # the current file stays
    values["updated"] = now()
    db = get_db()
    try:
        db.execute(
            "UPDATE note SET "
            + ", ".join(f"{column} = ?" for column in values)
            + " WHERE id = ?",
            (*values.values(), note["id"]),
        )
        db.commit()
    except BaseException:
        _remove_file(new_file[1])
        raise
    _remove_file(old_key)
    note = get_note(note["id"], note["user_id"])
    _publish(note["user_id"], {"type": "updated", "note": to_json(note)})
    return note


def delete_note(note: sqlite3.Row) -> None:
    """Delete ``note`` and its attachment."""
    db = get_db()
    db.execute("DELETE FROM note WHERE id = ?", (note["id"],))
    db.commit()
    _remove_file(note["attachment_key"])
    _publish(note["user_id"], {"type": "deleted", "id": note["id"]})


def to_json(note: sqlite3.Row) -> dict[str, Any]:
    """Return the API's view of a note."""
    attachment = None
    if note["attachment_key"]:
        attachment = {
            "name": note["attachment_name"],
            "size": note["attachment_size"],
            "url": url_for("notes.attachment", note_id=note["id"]),
        }
    return {
        "id": note["id"],
        "title": note["title"],
        "body": note["body"],
        "created": note["created"],
        "updated": note["updated"],
        "url": url_for("notes.show", note_id=note["id"]),
        "attachment": attachment,
    }


def attachment_folder() -> str:
    return current_app.config["UPLOAD_FOLDER"]


def _save_upload(
    upload: FileStorage | None,
) -> tuple[str | None, str | None, int | None]:
    """Store an uploaded file; return (display name, stored name, size)."""
    if upload is None or not upload.filename:
        return None, None, None
    key = secrets.token_hex(16)
    path = os.path.join(attachment_folder(), key)
    upload.save(path)
    return _display_name(upload.filename), key, os.path.getsize(path)


def _display_name(filename: str) -> str:
    """Keep the last path segment of the client's name, without control chars."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:FILENAME_MAX] or "attachment"


def _remove_file(key: str | None) -> None:
    if key:
        try:
            os.remove(os.path.join(attachment_folder(), key))
        except FileNotFoundError:
            pass


def _publish(user_id: int, message: dict[str, Any]) -> None:
    current_app.extensions["notes.hub"].publish(user_id, message)
