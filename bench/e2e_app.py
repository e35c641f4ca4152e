"""Build the app a server process serves during the end-to-end benchmark.

The harness (``e2e.py``) starts a server on ``e2e_app:app`` with BENCH_FRAMEWORK,
BENCH_SCENARIO and BENCH_PROTOCOL in the environment. When the app cannot be built
(erlen does not import yet, a feature is missing) a marker line on stderr lets the
harness report n/a instead of a server crash. Imports ``apps``.
"""

from __future__ import annotations

import os
import sys

import apps

_FRAMEWORK = os.environ.get("BENCH_FRAMEWORK", "raw")
_SCENARIO = os.environ.get("BENCH_SCENARIO", "hello")
_PROTOCOL = os.environ.get("BENCH_PROTOCOL", "wsgi")

try:
    app = apps.load(_FRAMEWORK).build(_SCENARIO, _PROTOCOL)
except Exception as exc:
    print(
        f"bench-app-unavailable: {type(exc).__name__}: {exc}",
        file=sys.stderr,
        flush=True,
    )
    raise
