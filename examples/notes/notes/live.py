"""Live updates: which WebSockets are open, and handing them messages.

Each open WebSocket subscribes with an :class:`asyncio.Queue` that belongs to
the event loop it runs on. :meth:`Hub.publish` may be called from any thread —
a sync view runs in a worker thread under ASGI — so it never touches a queue
itself: it asks the queue's loop to do it (``loop.call_soon_threadsafe``).
That is the whole synchronisation story; the lock only guards the registry.

The hub lives in one process. With several server processes, a note created
in one reaches only the pages connected to that process; put a message broker
(Redis pub/sub, PostgreSQL LISTEN/NOTIFY) behind ``publish`` to go further.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

#: Messages a slow page may fall behind by before it is told to reload.
QUEUE_SIZE = 100


class Subscription:
    """One open WebSocket's mailbox, used from its event loop only."""

    __slots__ = ("loop", "queue", "user_id")

    def __init__(self, user_id: int, loop: asyncio.AbstractEventLoop) -> None:
        self.user_id = user_id
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)

    async def get(self) -> dict[str, Any]:
        """Wait for the next message."""
        return await self.queue.get()

    def _offer(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # The page reads slower than notes change: rather than let memory
            # grow, drop the backlog and have the page load the list afresh.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait({"type": "resync"})


class Hub:
    """The open WebSockets of one app in this process, by user id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_user: dict[int, set[Subscription]] = {}

    def subscribe(self, user_id: int) -> Subscription:
        """Register a WebSocket of ``user_id``; call from its coroutine."""
        sub = Subscription(user_id, asyncio.get_running_loop())
        with self._lock:
            self._by_user.setdefault(user_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscription (its WebSocket closed)."""
        with self._lock:
            subs = self._by_user.get(sub.user_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_user[sub.user_id]

    def publish(self, user_id: int, message: dict[str, Any]) -> int:
        """Send ``message`` to every open page of ``user_id``; from any thread.

        Returns the number of pages it was handed to.
        """
        with self._lock:
            subs = list(self._by_user.get(user_id, ()))
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub._offer, message)
            except RuntimeError:  # that loop is closed: the socket is gone
                self.unsubscribe(sub)
        return len(subs)

    def count(self, user_id: int | None = None) -> int:
        """Return how many WebSockets are open (for ``user_id``, or in all)."""
        with self._lock:
            if user_id is not None:
                return len(self._by_user.get(user_id, ()))
            return sum(len(s) for s in self._by_user.values())
