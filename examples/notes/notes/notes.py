"""The notes pages: list, show, create, edit, delete, attachments, live updates.

Pages are plain sync views. ``/ws`` is a WebSocket (served under ASGI) over
which the list page hears about notes created, changed or deleted anywhere —
in another tab, another browser or through the API (see ``live.py``).
"""

from __future__ import annotations

import asyncio

from erlen import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
    websocket,
)

from . import model
from .auth import login_required
from .live import Subscription

bp = Blueprint("notes", __name__)


@bp.route("/")
@login_required
def index():
    return render_template("notes/index.html", notes=model.list_notes(g.user["id"]))


@bp.route("/notes/<int:note_id>")
@login_required
def show(note_id: int):
    return render_template(
        "notes/show.html", note=model.get_note(note_id, g.user["id"])
    )


@bp.route("/notes/new", methods=("GET", "POST"))
@login_required
def create():
    form = {"title": "", "body": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = _form_fields()
        clean, errors = model.validate(form)
        if not errors:
            note = model.create_note(
                g.user["id"],
                clean["title"],
                clean["body"],
                request.files.get("attachment"),
            )
            flash(f"Created “{note['title']}”.", "success")
            return redirect(url_for("notes.index"))
    status = 422 if errors else 200
    return render_template(
        "notes/form.html", note=None, form=form, errors=errors
    ), status


@bp.route("/notes/<int:note_id>/edit", methods=("GET", "POST"))
@login_required
def edit(note_id: int):
    note = model.get_note(note_id, g.user["id"])
    form = {"title": note["title"], "body": note["body"]}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = _form_fields()
        clean, errors = model.validate(form)
        if not errors:
            note = model.update_note(
                note,
                clean,
                request.files.get("attachment"),
                remove_attachment="remove_attachment" in request.form,
            )
            flash(f"Saved “{note['title']}”.", "success")
            return redirect(url_for("notes.show", note_id=note_id))
    status = 422 if errors else 200
    return render_template(
        "notes/form.html", note=note, form=form, errors=errors
    ), status


@bp.post("/notes/<int:note_id>/delete")
@login_required
def delete(note_id: int):
    note = model.get_note(note_id, g.user["id"])
    model.delete_note(note)
    flash(f"Deleted “{note['title']}”.", "info")
    return redirect(url_for("notes.index"))


@bp.route("/notes/<int:note_id>/attachment")
@login_required
def attachment(note_id: int):
    note = model.get_note(note_id, g.user["id"])
    if not note["attachment_key"]:
        abort(404, description="This note has no attachment.")
    response = send_from_directory(
        model.attachment_folder(),
        note["attachment_key"],
        as_attachment=True,
        download_name=note["attachment_name"],
        # The type is not guessed from a name the client chose.
        mimetype="application/octet-stream",
    )
    # One user's file: no shared cache may keep it, no browser may sniff it.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _form_fields() -> dict[str, str]:
    return {
        "title": request.form.get("title", ""),
        "body": request.form.get("body", ""),
    }


@bp.websocket("/ws")
async def live():
    """Send the logged-in user's note changes to the page as JSON messages.

    erlen refuses handshakes from pages of other sites (the Origin check) before
    this runs; a visitor who is not logged in is refused here.
    """
    user_id = session.get("user_id")
    if user_id is None:
        abort(401)  # before accept(), this refuses the handshake
    await websocket.accept()
    hub = current_app.extensions["notes.hub"]
    sub = hub.subscribe(user_id)
    # From now on nothing is missed: tell the page, which shows it is live.
    await websocket.send_json({"type": "ready"})
    # Two jobs: forward the hub's messages, and read from the socket so that a
    # closed page is noticed even when nothing is published.
    forward = asyncio.ensure_future(_forward(sub))
    listen = asyncio.ensure_future(_drain())
    try:
        await asyncio.wait((forward, listen), return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.unsubscribe(sub)
        for task in (forward, listen):
            task.cancel()
        await asyncio.gather(forward, listen, return_exceptions=True)


async def _forward(sub: Subscription) -> None:
    while True:
        await websocket.send_json(await sub.get())


async def _drain() -> None:
    async for _message in websocket:  # ends when the page goes away
        pass  # the page sends nothing we act on
