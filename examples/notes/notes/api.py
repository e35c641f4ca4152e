"""The JSON API: ``/api/notes`` as a MethodView.

=======  ======================  ==========================================
GET      /api/notes              the user's notes, newest first
POST     /api/notes              create: ``{"title": ..., "body": ...}`` → 201
GET      /api/notes/<id>         one note
PATCH    /api/notes/<id>         change ``title`` and/or ``body``
DELETE   /api/notes/<id>         delete → 204
=======  ======================  ==========================================

It uses the session cookie of a logged-in user. Every error is JSON,
``{"error": "Not Found", "message": "..."}``, with its status code: 400
malformed JSON, 401 not logged in, 404 no such note (or someone else's), 405,
413, 415 a body that is not JSON, 422 invalid fields (with ``"fields"``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException

from erlen import Blueprint, abort, g, jsonify, request, url_for
from erlen.views import MethodView

from . import model

bp = Blueprint("api", __name__, url_prefix="/api")

_FIELDS = frozenset({"title", "body"})


def api_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer 401 (JSON) to requests without a logged-in user."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None:
            abort(401, description="Log in to use the API.")
        return view(*args, **kwargs)

    return wrapped


def error_response(e: HTTPException):
    """Return the JSON form of an HTTP error (used by the app's error handler)."""
    response = jsonify(error=e.name, message=e.description)
    response.status_code = e.code
    for name, value in e.get_headers():
        if name.lower() != "content-type":  # keep Allow, WWW-Authenticate, ...
            response.headers[name] = value
    return response


class NoteAPI(MethodView):
    decorators = [api_login_required]
    init_every_request = False

    def get(self, note_id: int | None = None):
        if note_id is None:
            return jsonify([model.to_json(n) for n in model.list_notes(g.user["id"])])
        return model.to_json(model.get_note(note_id, g.user["id"]))

    def post(self):
        clean, errors = model.validate(_json_object())
        if errors:
            return _invalid(errors)
        note = model.create_note(g.user["id"], clean["title"], clean["body"])
        # _method: during this POST, url_for would otherwise pick the POST rule.
        location = url_for("api.notes", note_id=note["id"], _method="GET")
        return model.to_json(note), 201, {"Location": location}

    def patch(self, note_id: int):
        note = model.get_note(note_id, g.user["id"])
        data = _json_object()
        clean, errors = model.validate(data, partial=True)
        for field in data.keys() - _FIELDS:
            errors[field] = "Unknown field: only title and body can be changed."
        if errors:
            return _invalid(errors)
        if clean:
            note = model.update_note(note, clean)
        return model.to_json(note)

    def delete(self, note_id: int):
        model.delete_note(model.get_note(note_id, g.user["id"]))
        return "", 204


def _json_object() -> dict[str, Any]:
    # get_json answers 415 for a body that is not JSON and 400 for bad JSON.
    data = request.get_json()
    if not isinstance(data, dict):
        abort(400, description="Send a JSON object.")
    return data


def _invalid(errors: dict[str, str]):
    body = {
        "error": "Unprocessable Content",
        "message": "Some fields are invalid.",
        "fields": errors,
    }
    return body, 422


note_view = NoteAPI.as_view("notes")
bp.add_url_rule("/notes", view_func=note_view, methods=["GET", "POST"])
bp.add_url_rule(
    "/notes/<int:note_id>", view_func=note_view, methods=["GET", "PATCH", "DELETE"]
)
