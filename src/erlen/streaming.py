"""Streaming in both directions: request bodies chunk by chunk, and Server-Sent Events.

- :func:`stream_request_body` marks an ``async def`` view whose request body the
  ASGI adapter must not read before the view runs; the view reads it with
  ``async for chunk in request_body()``. :func:`request_body` works in every
  view under both protocols, so view code stays portable.
- :class:`ReceiveStream` is what the ASGI adapter puts in ``wsgi.input`` for
  such a view: it owns the connection's ``receive`` so that the view's reader
  and the adapter's disconnect watcher never race for a message.
- :func:`sse_response` turns a sync or async iterable of events (``str``,
  ``dict``/``list`` as JSON, or :class:`Event`) into a ``text/event-stream``
  response with keep-alive comments; :func:`last_event_id` reads the
  reconnecting client's ``Last-Event-ID``.

See ``docs/streaming.md``.

May import: erlen.globals, erlen.json (``dumps`` outside an app). The app is
reached through the context variable.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import io
import queue
import re
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from werkzeug.exceptions import ClientDisconnected as _WerkzeugClientDisconnected
from werkzeug.exceptions import RequestEntityTooLarge

from .globals import _cv_ctx

if TYPE_CHECKING:  # pragma: no cover
    from .typing import Message, Receive
    from .wrappers import Request, Response

F = TypeVar("F", bound=Callable[..., Any])

#: Body bytes the disconnect watcher keeps for a reader that has not started yet;
#: past this, with no reader, the rest of the body is discarded.
WATCH_BUFFER = 1 << 20

#: What :func:`request_body` reads at a time from a sync stream (WSGI, or a body
#: the ASGI adapter already read).
CHUNK_SIZE = 1 << 16

_KEEP_ALIVE = b": keep-alive\n\n"
_END: Any = object()
# The line ends of the event-stream format (WHATWG HTML §9.2.6): CRLF, LF, CR.
_LINE_END = re.compile(r"\r\n|\r|\n")
_DISCONNECT: Message = {"type": "http.disconnect"}


class ClientDisconnected(_WerkzeugClientDisconnected):
    """The client went away before the request body was complete.

    Raised by :func:`request_body` (under both protocols) and by the ASGI
    adapter while it reads a body. A view may let it propagate: under ASGI
    nothing is sent and teardown functions get ``exc=None``; under WSGI, as
    Werkzeug's :exc:`~werkzeug.exceptions.ClientDisconnected` it subclasses,
    it is a 400 nobody receives.
    """


# -- request bodies ----------------------------------------------------------------
def stream_request_body(view: F) -> F:
    """Mark an ``async def`` view that reads its request body as it arrives.

    Under ASGI the adapter then skips reading the body before the view runs,
    and the view consumes it with :func:`request_body`, chunk by chunk, with
    ``MAX_CONTENT_LENGTH`` (or a ``request.max_content_length`` the view sets
    first) enforced as it streams. ``request.form``, ``files``, ``data`` and
    ``json`` are not available in such a view. Under WSGI the mark changes
    nothing: :func:`request_body` reads ``request.stream``. Example::

        @app.post("/upload")
        @stream_request_body
        async def upload():
            digest = hashlib.sha256()
            async for chunk in request_body():
                digest.update(chunk)
            return {"sha256": digest.hexdigest()}

    :raise TypeError: ``view`` is not an ``async def`` function or a class-based view.
    """
    if not (
        inspect.iscoroutinefunction(view)
        or getattr(view, "_erlen_async", False)
        or getattr(view, "view_class", None) is not None
    ):
        name = getattr(view, "__name__", repr(view))
        raise TypeError(
            f"stream_request_body marks 'async def' views; {name!r} is not one."
            " A sync view reads its body with request.stream."
        )
    view._erlen_stream_body = True  # type: ignore[attr-defined]
    return view


def request_body(chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
    """Return an async iterator over the current request's body, in chunks.

    In a :func:`stream_request_body` view under ASGI the chunks come from the
    server as the client sends them; elsewhere (WSGI, or an unmarked view
    whose body the ASGI adapter read first) they are read from
    ``request.stream``, ``chunk_size`` bytes at a time. Iterating another
    one continues where the previous one stopped. The request is taken when
    this is called, so an iterator made in the view may be consumed by the
    response's generator (an echo), also under WSGI. Example::

        async for chunk in request_body():
            await sink.write(chunk)

    While it is iterated it raises :exc:`RequestEntityTooLarge` (413) once the
    body passes ``request.max_content_length`` (nothing more is read), and
    :exc:`ClientDisconnected` when the client left before the body was complete.

    :raise RuntimeError: no request context is active.
    :raise ValueError: ``chunk_size`` is not a positive int.
    """
    if type(chunk_size) is not int or chunk_size < 1:
        raise ValueError("chunk_size must be a positive int.")
    ctx = _cv_ctx.get(None)
    req = None if ctx is None else ctx.request
    if req is None:
        raise RuntimeError(
            "request_body() reads the current request's body: call it in a view."
        )
    return _body_chunks(req, chunk_size)


async def _body_chunks(req: Request, chunk_size: int) -> AsyncIterator[bytes]:
    environ = req.environ
    source = environ.get("wsgi.input")
    if type(source) is ReceiveStream:
        chunks = source.chunks(req)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # the stream counts its readers
        return
    stream = req.stream  # cut at Content-Length; 413 past max_content_length
    # Under ASGI a body the adapter spooled to a temp file is read off the loop;
    # under WSGI the thread is the request's own, so a blocking read is fine.
    offload = "asgi.scope" in environ and not isinstance(source, io.BytesIO | None)
    loop = asyncio.get_running_loop() if offload else None
    while True:
        try:
            if loop is not None:
                chunk = await loop.run_in_executor(None, stream.read, chunk_size)
            else:
                chunk = stream.read(chunk_size)
        except _WerkzeugClientDisconnected as e:
            if isinstance(e, ClientDisconnected):
                raise
            raise ClientDisconnected() from e
        if not chunk:
            return
        yield chunk


class ReceiveStream(io.RawIOBase):
    """The ``wsgi.input`` of a :func:`stream_request_body` view under ASGI.

    It holds the connection's ``receive``. :func:`request_body` takes the body
    from it; once a response streams, the adapter's disconnect watcher waits
    through :meth:`receive_disconnect`. Only one ``receive()`` call is ever in
    flight: body chunks the watcher receives are kept for the reader (up to
    :data:`WATCH_BUFFER` bytes while no reader runs; past that, the rest of the
    body is discarded). Sync reads (``request.data``, ``request.form``) raise
    :exc:`RuntimeError`: the loop cannot wait for the body.
    """

    def __init__(self, receive: Receive) -> None:
        super().__init__()
        self._receive = receive
        #: The ``receive()`` call the watcher started, if it has not returned.
        self._task: asyncio.Task[Message] | None = None
        self._waiters = 0
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        #: The server may send more of the body.
        self.more = True
        self.disconnected = False
        #: Body bytes handed to readers so far.
        self.received = 0
        self._readers = 0
        #: Why the body can no longer be read: None, "too large" or "discarded".
        self._refused: str | None = None
        self._changed = asyncio.Event()

    @classmethod
    def install(cls, environ: dict[str, Any], receive: Receive) -> Receive:
        """Put a stream of ``receive`` in ``environ``; return the watcher's receive."""
        stream = environ["wsgi.input"] = cls(receive)
        environ["wsgi.input_terminated"] = True
        return stream.receive_disconnect

    # -- the sync file interface: refused ----------------------------------------
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise RuntimeError(
            "This view streams its request body (@stream_request_body): read it"
            " with 'async for chunk in request_body()'. request.data, form,"
            " files and json are not available in it."
        )

    # -- messages ----------------------------------------------------------------
    def _take(self, message: Message) -> None:
        if message["type"] == "http.disconnect":
            self.disconnected = True
            self._changed.set()
        elif self.more:
            chunk = message.get("body", b"")
            self.more = bool(message.get("more_body", False))
            if chunk and self._refused is None:
                self._chunks.append(chunk)
                self._buffered += len(chunk)

    async def _fetch(self, reader: bool) -> None:
        """Receive one message; join the ``receive()`` call in flight, if any."""
        task = self._task
        if task is None and reader:
            # PERF: a reader awaits receive() itself, no task per chunk; the
            # watcher waits meanwhile (it never receives while a reader runs).
            self._take(await self._receive())
            return
        if task is None:
            task = self._task = asyncio.ensure_future(self._receive())
        self._waiters += 1
        try:
            await asyncio.wait((task,))  # a cancelled waiter leaves the call running
        finally:
            self._waiters -= 1
            if self._task is task:
                if task.done():
                    self._task = None
                    self._take(task.result())
                elif not self._waiters:
                    task.cancel()  # nobody waits for it any more
                    self._task = None

    async def chunks(self, req: Request) -> AsyncIterator[bytes]:
        """Yield the rest of the body for :func:`request_body`."""
        if self._refused == "too large":
            raise RequestEntityTooLarge()
        if self._refused is not None:
            raise RuntimeError(
                "The request body was discarded: the response started streaming"
                f" and more than {WATCH_BUFFER} bytes came before the view read"
                " them. Read the body before returning a streamed response."
            )
        limit = req.max_content_length
        declared = req.content_length
        if limit is not None and declared is not None and declared > limit:
            # Announced too large: refuse before reading any of it.
            self._refused = "too large"
            raise RequestEntityTooLarge()
        self._readers += 1
        try:
            while True:
                if self._chunks:
                    chunk = self._chunks.popleft()
                    self._buffered -= len(chunk)
                    size = self.received + len(chunk)
                    if declared is not None and size > declared:
                        # A server sending more than announced: keep what was.
                        chunk = chunk[: declared - self.received]
                        size = declared
                        self.more = False
                        self._chunks.clear()
                        self._buffered = 0
                    if limit is not None and size > limit:
                        self._refused = "too large"
                        self._chunks.clear()
                        self._buffered = 0
                        raise RequestEntityTooLarge()
                    self.received = size
                    if chunk:
                        yield chunk
                elif not self.more:
                    if declared is not None and self.received < declared:
                        # The body ended short of its Content-Length: never
                        # pass a truncated body off as a whole one.
                        raise ClientDisconnected()
                    return
                elif self.disconnected:
                    raise ClientDisconnected()
                else:
                    await self._fetch(True)
        finally:
            self._readers -= 1
            self._changed.set()

    async def receive_disconnect(self) -> Message:
        """Wait for the client to leave: the ``receive`` of the disconnect watcher.

        While a reader runs, it sees a disconnect itself, so the watcher only
        waits; otherwise it receives, keeping body chunks for a later reader.
        """
        changed = self._changed
        while not self.disconnected:
            if self._readers and self.more and self._refused is None:
                changed.clear()
                await changed.wait()
                continue
            if self.more and self._refused is None and self._buffered >= WATCH_BUFFER:
                # Nobody reads the body: stop keeping it (memory stays bounded).
                self._refused = "discarded"
            if self._refused is not None:
                self._chunks.clear()
                self._buffered = 0
            await self._fetch(False)
        return _DISCONNECT


# -- Server-Sent Events -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Event:
    """One Server-Sent Event: ``data`` plus the optional ``event``, ``id`` and ``retry``.

    ``data`` is sent as is when it is a ``str`` (each line of it a ``data:``
    line), as JSON otherwise (``dict``, ``list``, numbers...); ``None`` sends no
    data, e.g. for a message that only sets ``retry``. ``retry`` is the
    client's reconnection delay in milliseconds. Example::

        Event({"price": 12.5}, event="tick", id=41)

    :raise ValueError: ``event`` or ``id`` contains CR or LF (or ``id`` NUL), or
        ``retry`` is negative.
    :raise TypeError: ``event``, ``id`` or ``retry`` has the wrong type.
    """

    data: Any = None
    event: str | None = None
    id: str | int | None = None
    retry: int | None = None

    def __post_init__(self) -> None:
        if self.event is not None:
            _check_field("event", self.event, "\r\n")
        if self.id is not None and type(self.id) is not int:
            _check_field("id", self.id, "\r\n\0")
        if self.retry is not None and (type(self.retry) is not int or self.retry < 0):
            raise TypeError(
                "Event retry must be a non-negative int (milliseconds), not"
                f" {self.retry!r}."
            )

    def encode(self, dumps: Callable[[Any], str] | None = None) -> bytes:
        """Return the event in the ``text/event-stream`` wire form (UTF-8).

        :param dumps: serializes non-``str`` data; the current app's JSON
            provider by default.
        """
        parts = []
        if self.id is not None:
            parts.append(f"id: {self.id}\n")
        if self.event is not None:
            parts.append(f"event: {self.event}\n")
        if self.retry is not None:
            parts.append(f"retry: {self.retry}\n")
        data = self.data
        if data is not None:
            if type(data) is not str:
                if dumps is None:
                    from .json import dumps
                data = dumps(data)
            parts.append(_data_lines(data))
        parts.append("\n")
        return "".join(parts).encode()


def _check_field(name: str, value: Any, forbidden: str) -> None:
    if type(value) is not str:
        raise TypeError(f"Event {name} must be a str, not {type(value).__name__}.")
    for char in forbidden:
        if char in value:
            # A line break would end the field and start another (injection).
            raise ValueError(f"Event {name} must not contain {char!r}: {value!r}.")


def _data_lines(data: str) -> str:
    return "".join(f"data: {line}\n" for line in _LINE_END.split(data))


def _frame(item: Any, dumps: Callable[[Any], str]) -> bytes:
    """Return one item of an event source in wire form."""
    kind = type(item)
    if kind is str:
        return (_data_lines(item) + "\n").encode()
    if kind is Event:
        return item.encode(dumps)
    if isinstance(item, dict | list):
        return (_data_lines(dumps(item)) + "\n").encode()
    if isinstance(item, str):
        return (_data_lines(str(item)) + "\n").encode()
    if isinstance(item, bytes | bytearray):
        return (_data_lines(bytes(item).decode()) + "\n").encode()
    if isinstance(item, Event):
        return item.encode(dumps)
    raise TypeError(
        "An event stream yields str, bytes, dict, list or erlen.Event items, not"
        f" {kind.__name__}."
    )


def last_event_id() -> str | None:
    """Return the ``Last-Event-ID`` a reconnecting ``EventSource`` sent, or None.

    Example: resume a stream after the last event the client saw::

        start = int(last_event_id() or 0)
    """
    ctx = _cv_ctx.get(None)
    req = None if ctx is None else ctx.request
    if req is None:
        raise RuntimeError(
            "last_event_id() reads the current request: call it in a view."
        )
    return req.environ.get("HTTP_LAST_EVENT_ID") or None


def sse_response(
    events: Any,
    *,
    keep_alive: float | None = 15.0,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return a streamed ``text/event-stream`` response of ``events``.

    :param events: a sync or async iterable (e.g. a generator) of events: a
        ``str`` is the data of one event, a ``dict`` or ``list`` is sent as
        JSON data, an :class:`Event` sets the ``event``, ``id`` and ``retry``
        fields too. The request context stays available to it while it runs.
        An async iterable runs on the event loop; a sync one in a thread of its
        own, so waiting for the next event blocks neither the loop nor the
        keep-alive comments.
    :param keep_alive: send a ``: keep-alive`` comment after this many seconds
        without an event, so proxies keep the connection open and a departed
        client is noticed; ``None`` or ``0`` disables it.
    :param status: the response status.
    :param headers: more response headers; they win over the defaults
        (``Cache-Control: no-cache``, ``X-Accel-Buffering: no``).

    Example::

        @app.get("/prices")
        async def prices():
            async def events():
                async for tick in feed.subscribe(after=last_event_id()):
                    yield Event(tick.as_dict(), event="tick", id=tick.seq)
            return sse_response(events())

    :raise TypeError: ``events`` is not iterable.
    :raise ValueError: ``keep_alive`` is negative.
    """
    ctx = _cv_ctx.get(None)
    if ctx is None:
        raise RuntimeError(
            "sse_response() needs an application context: call it in a view."
        )
    app = ctx.app
    if hasattr(events, "__aiter__"):
        source: Any = events.__aiter__()
        is_async = True
    else:
        try:
            source = iter(events)
        except TypeError:
            raise TypeError(
                "sse_response() takes an iterable or async iterable of events,"
                f" not {type(events).__name__}."
            ) from None
        is_async = False
    if keep_alive is not None and not keep_alive >= 0:
        raise ValueError(
            f"keep_alive must be None or >= 0 seconds, not {keep_alive!r}."
        )
    body = _event_stream(
        source, is_async, keep_alive or None, contextvars.copy_context(), app.json.dumps
    )
    response = app.response_class(
        body,
        status=status,
        headers=headers,
        content_type="text/event-stream; charset=utf-8",
    )
    h = response.headers
    h.setdefault("Cache-Control", "no-cache")
    # nginx buffers responses by default; this turns it off for this one.
    h.setdefault("X-Accel-Buffering", "no")
    return response


async def _anext(iterator: Any) -> Any:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _END


async def _event_stream(
    source: Any,
    is_async: bool,
    keep_alive: float | None,
    context: contextvars.Context,
    dumps: Callable[[Any], str],
) -> AsyncIterator[bytes]:
    """Yield the wire form of ``source``'s events, with keep-alive comments.

    Each step of ``source`` runs in ``context`` (the view's), as its own task
    (async) or in a thread of this stream (sync); waiting for it with a
    timeout never cancels it, so a keep-alive does not disturb the source.
    Closing this generator (the client left) cancels an async step and closes
    the source; a sync step that is still waiting is left to return first.
    """
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[Any] | None = None
    step: Future[Any] | None = None  # the sync step running in the thread
    worker: _SourceThread | None = None
    try:
        while True:
            if pending is None:
                if is_async:
                    pending = loop.create_task(_anext(source), context=context)
                else:
                    if worker is None:
                        worker = _SourceThread()
                    step = worker.submit(context.run, next, source, _END)
                    pending = asyncio.wrap_future(step, loop=loop)
            if keep_alive is not None:
                done, _ = await asyncio.wait((pending,), timeout=keep_alive)
                if not done:
                    yield _KEEP_ALIVE
                    continue
            item = await pending
            pending = None
            if item is _END:
                return
            yield _frame(item, dumps)
    finally:
        if is_async:
            await _close_async(loop, source, pending, context)
        else:
            await _close_sync(source, step, pending, worker, context)


async def _close_async(
    loop: asyncio.AbstractEventLoop,
    source: Any,
    pending: asyncio.Future[Any] | None,
    context: contextvars.Context,
) -> None:
    if pending is not None and not pending.done():
        pending.cancel()
        await asyncio.wait((pending,))
    if pending is not None and not pending.cancelled():
        pending.exception()  # retrieved: raised already, or moot once closing
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        # In the view's context, so the source's ``finally`` sees the request.
        await loop.create_task(_await(aclose), context=context)


async def _await(func: Callable[[], Any]) -> Any:
    return await func()


async def _close_sync(
    source: Any,
    step: Future[Any] | None,
    pending: asyncio.Future[Any] | None,
    worker: _SourceThread | None,
    context: contextvars.Context,
) -> None:
    if worker is None:
        return  # no step ever ran
    if pending is not None and pending.done() and not pending.cancelled():
        pending.exception()  # a step that ended after the client left
    close = getattr(source, "close", None)
    try:
        if close is not None:
            closing = worker.submit(context.run, close)
            if step is None or step.done():
                await asyncio.wrap_future(closing)
            # Else the source is still waiting for its next event: the thread
            # closes it when that step returns, without holding this request.
    finally:
        worker.shutdown()


class _SourceThread:
    """Runs the steps of one sync event source, in order, in a daemon thread.

    Not a ThreadPoolExecutor: its threads are joined at interpreter exit, and
    a source waiting forever for an event that never comes would hang it.
    """

    __slots__ = ("_jobs",)

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=self._work, name="erlen-sse", daemon=True).start()

    def submit(self, func: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, func, args))
        return future

    def shutdown(self) -> None:
        """Let the thread end once the work already submitted is done."""
        self._jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, func, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(func(*args))
            except BaseException as e:  # never leave the waiter hanging
                future.set_exception(e)


__all__ = [
    "ClientDisconnected",
    "Event",
    "ReceiveStream",
    "last_event_id",
    "request_body",
    "sse_response",
    "stream_request_body",
]
