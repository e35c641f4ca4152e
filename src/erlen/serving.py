"""The development server behind ``erlen run`` and ``app.run()``.

It will serve the app over ASGI (HTTP and WebSockets) with uvicorn, reloading on
code changes. Not built yet: it arrives with erlen's ASGI adapter.

May import: erlen.discovery (to load the app in a reloaded process), erlen.asgi.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["serve"]


def serve(
    app_import_path_or_factory: str | Callable[[], Any] | None,
    host: str = "127.0.0.1",
    port: int = 5000,
    *,
    reload: bool = False,
    debug: bool = False,
    threaded: bool = True,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    extra_files: Sequence[str] = (),
    exclude_patterns: Sequence[str] = (),
) -> None:
    """Serve an app with the development server until interrupted.

    :param app_import_path_or_factory: what ``--app`` accepts (``"module"``,
        ``"module:name"``, ``"module:factory('arg')"``, a file path), or a
        function returning the app. ``None`` means discovery in the working
        directory (``wsgi.py``, ``app.py``). A reloading server re-imports the
        app in a new process from this.
    :param host: the interface to bind to.
    :param port: the port to bind to.
    :param reload: restart when a Python file (or one of ``extra_files``) changes.
    :param debug: the app's debug mode, for the server's own logging.
    :param threaded: run sync views in a thread pool rather than one at a time.
    :param ssl_certfile: TLS certificate (PEM); serve HTTPS with ``ssl_keyfile``.
    :param ssl_keyfile: TLS private key (PEM).
    :param extra_files: more files whose change triggers a reload.
    :param exclude_patterns: ``fnmatch`` patterns of files the reloader ignores.
    """
    raise NotImplementedError(
        "erlen's development server arrives with erlen's ASGI adapter. Meanwhile"
        " serve the app with a WSGI server, e.g. `gunicorn 'module:app'`."
    )
