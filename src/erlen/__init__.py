"""erlen: Flask's programming model, served over WSGI and ASGI, fast.

The public surface is listed in ``__all__``; ``Flask`` is an alias of
:class:`Erlen` so existing code reads naturally::

    from erlen import Erlen, request

    app = Erlen(__name__)

    @app.route("/user/<int:uid>")
    def user(uid):
        return {"id": uid, "q": request.args.get("q")}

May import every erlen module (it only re-exports).
"""

from __future__ import annotations

from . import json as json
from .app import Erlen as Erlen
from .asgi import run_inline as run_inline
from .blueprints import Blueprint as Blueprint
from .config import Config as Config
from .ctx import after_this_request as after_this_request
from .ctx import copy_current_request_context as copy_current_request_context
from .ctx import has_app_context as has_app_context
from .ctx import has_request_context as has_request_context
from .flashing import flash as flash
from .flashing import get_flashed_messages as get_flashed_messages
from .globals import current_app as current_app
from .globals import g as g
from .globals import request as request
from .globals import session as session
from .globals import websocket as _websocket_proxy
from .helpers import abort as abort
from .helpers import make_response as make_response
from .helpers import redirect as redirect
from .helpers import send_file as send_file
from .helpers import send_from_directory as send_from_directory
from .helpers import stream_with_context as stream_with_context
from .helpers import url_for as url_for
from .json import jsonify as jsonify
from .signals import appcontext_popped as appcontext_popped
from .signals import appcontext_pushed as appcontext_pushed
from .signals import appcontext_tearing_down as appcontext_tearing_down
from .signals import before_render_template as before_render_template
from .signals import got_request_exception as got_request_exception
from .signals import message_flashed as message_flashed
from .signals import request_finished as request_finished
from .signals import request_started as request_started
from .signals import request_tearing_down as request_tearing_down
from .signals import template_rendered as template_rendered
from .streaming import ClientDisconnected as ClientDisconnected
from .streaming import Event as Event
from .streaming import last_event_id as last_event_id
from .streaming import request_body as request_body
from .streaming import sse_response as sse_response
from .streaming import stream_request_body as stream_request_body
from .templating import get_template_attribute as get_template_attribute
from .templating import render_template as render_template
from .templating import render_template_string as render_template_string
from .templating import stream_template as stream_template
from .templating import stream_template_string as stream_template_string
from .websockets import WebsocketDisconnect as WebsocketDisconnect
from .wrappers import Request as Request
from .wrappers import Response as Response

websocket = _websocket_proxy

#: Flask's name for the application class, so ``from erlen import Flask`` works.
Flask = Erlen

__version__ = "0.1.0.dev0"

__all__ = [
    "Blueprint",
    "ClientDisconnected",
    "Config",
    "Erlen",
    "Event",
    "Flask",
    "Request",
    "Response",
    "WebsocketDisconnect",
    "abort",
    "after_this_request",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "copy_current_request_context",
    "current_app",
    "flash",
    "g",
    "get_flashed_messages",
    "get_template_attribute",
    "got_request_exception",
    "has_app_context",
    "has_request_context",
    "json",
    "jsonify",
    "last_event_id",
    "make_response",
    "message_flashed",
    "redirect",
    "render_template",
    "render_template_string",
    "request",
    "request_body",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "run_inline",
    "send_file",
    "send_from_directory",
    "session",
    "sse_response",
    "stream_request_body",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "template_rendered",
    "url_for",
    "websocket",
]
