"""The signals erlen sends, as blinker signals with Flask 3.1's names.

Every signal is sent with the app as sender; the keyword arguments each one
carries are in its ``__doc__``. Connect a receiver with
``signal.connect(func, sender=app)``. The dispatcher
sends a signal only when :func:`has_receivers` says someone listens, so an app
that uses no signals pays nothing for them.

Imports no erlen module.
"""

from __future__ import annotations

from blinker import NamedSignal, Namespace

# Own namespace, so these signals do not mix with blinker's default one.
_signals = Namespace()

template_rendered = _signals.signal(
    "template-rendered",
    doc="Sent after a template was rendered; kwargs: template, context.",
)
before_render_template = _signals.signal(
    "before-render-template",
    doc="Sent before a template is rendered; kwargs: template, context.",
)
request_started = _signals.signal(
    "request-started",
    doc="Sent when the request context is set up, before any hook runs.",
)
request_finished = _signals.signal(
    "request-finished",
    doc="Sent when the response is ready to go out; kwargs: response.",
)
request_tearing_down = _signals.signal(
    "request-tearing-down",
    doc="Sent when the request context is torn down; kwargs: exc.",
)
got_request_exception = _signals.signal(
    "got-request-exception",
    doc="Sent when an unhandled exception reaches the app; kwargs: exception.",
)
appcontext_tearing_down = _signals.signal(
    "appcontext-tearing-down",
    doc="Sent when the app context is torn down; kwargs: exc.",
)
appcontext_pushed = _signals.signal(
    "appcontext-pushed",
    doc="Sent after an app context was pushed.",
)
appcontext_popped = _signals.signal(
    "appcontext-popped",
    doc="Sent after an app context was popped.",
)
message_flashed = _signals.signal(
    "message-flashed",
    doc="Sent when a message was flashed; kwargs: message, category.",
)


def has_receivers(signal: NamedSignal) -> bool:
    """Tell whether anyone is connected to *signal*.

    The dispatcher asks this before building a signal's arguments and calling
    ``send``: a dict truth test costs far less than a ``send`` that finds no
    receivers. The answer is conservative: it is ``True`` as long as any
    receiver is connected, even one connected only for another sender, so it
    never skips a send that would have reached someone.

    :param signal: a blinker signal.
    """
    # PERF: blinker's ``send`` does argument handling and a receiver lookup even
    # when nobody listens; this is one attribute read and one truth test.
    return bool(signal.receivers)


__all__ = [
    "Namespace",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "got_request_exception",
    "has_receivers",
    "message_flashed",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "template_rendered",
]
