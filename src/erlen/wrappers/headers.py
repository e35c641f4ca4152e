"""``Headers``: Werkzeug's response header list with a cheaper ``set``/``add``.

The class *is* a :class:`werkzeug.datastructures.Headers` (code that checks
``isinstance`` or uses its API keeps working). Only the common case — a ``str``
name and a ``str`` value — takes a shorter route; anything else goes to
Werkzeug's implementation. Values are still refused when they contain CR or LF;
the full check of names and values happens once, when the response is written
(:meth:`erlen.wrappers.response.Response.wire_headers`).

Imports no erlen module.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import Headers as _WzHeaders


def _refuse_newline() -> None:
    raise ValueError("Header values must not contain newline characters.")


class Headers(_WzHeaders):
    """Response headers; see :class:`werkzeug.datastructures.Headers`."""

    # PERF: bench scenario "hooks" sets three headers in after-request hooks;
    # Werkzeug's path costs ~15 Python calls per set, this one 2 + one per header.
    def set(self, _key: str, _value: Any, /, **kw: Any) -> None:
        if kw or type(_value) is not str or type(_key) is not str:
            super().set(_key, _value, **kw)
            return
        if "\n" in _value or "\r" in _value:
            _refuse_newline()
        lst = self._list
        ikey = _key.lower()
        for idx, item in enumerate(lst):
            if item[0].lower() == ikey:
                lst[idx] = (_key, _value)
                tail = lst[idx + 1 :]
                if tail:
                    lst[idx + 1 :] = [t for t in tail if t[0].lower() != ikey]
                return
        lst.append((_key, _value))

    def __setitem__(self, key: Any, value: Any) -> None:
        if type(key) is str:
            self.set(key, value)
        else:
            super().__setitem__(key, value)

    def add(self, key: str, value: Any, /, **kwargs: Any) -> None:
        if kwargs or type(value) is not str:
            super().add(key, value, **kwargs)
            return
        if "\n" in value or "\r" in value:
            _refuse_newline()
        self._list.append((key, value))


__all__ = ["Headers"]
