"""Class-based views: :class:`View` and :class:`MethodView`.

``as_view`` turns a class into a view function once, at registration; per request
the only work is creating the instance (unless ``init_every_request`` is off) and
calling the method.

May import: erlen.globals, erlen.pipeline (to run a coroutine result), erlen.typing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, ClassVar

from .globals import request
from .pipeline import _resolve
from .typing import ResponseReturnValue, RouteCallable

#: Lower-case names of the methods a MethodView may define.
http_method_funcs = frozenset(
    ["get", "post", "head", "options", "delete", "put", "trace", "patch"]
)


class View:
    """Subclass and implement :meth:`dispatch_request`; register with ``as_view``.

    Example::

        class Hello(View):
            methods = ["GET"]
            def dispatch_request(self, name):
                return f"Hello {name}"

        app.add_url_rule("/hello/<name>", view_func=Hello.as_view("hello"))
    """

    #: Methods the rule accepts (default: GET, plus HEAD/OPTIONS automatically).
    methods: ClassVar[Collection[str] | None] = None
    #: Passed on to ``add_url_rule``; None uses the app's default.
    provide_automatic_options: ClassVar[bool | None] = None
    #: Decorators applied, in order, to the view function ``as_view`` returns.
    decorators: ClassVar[list[Callable[..., Any]]] = []
    #: Create a new instance per request (True) or one for all requests (False).
    init_every_request: ClassVar[bool] = True

    def dispatch_request(self, **kwargs: Any) -> ResponseReturnValue:
        """Handle the request; URL variables arrive as keyword arguments."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement dispatch_request()."
        )

    @classmethod
    def as_view(cls, name: str, *class_args: Any, **class_kwargs: Any) -> RouteCallable:
        """Return a view function that runs this class; ``name`` is the endpoint.

        ``class_args``/``class_kwargs`` go to the class constructor.
        """
        if cls.init_every_request:

            def view(**kwargs: Any) -> ResponseReturnValue:
                self = view.view_class(*class_args, **class_kwargs)  # type: ignore[attr-defined]
                return _resolve(self.dispatch_request(**kwargs))  # type: ignore[no-any-return]

        else:
            instance = cls(*class_args, **class_kwargs)

            def view(**kwargs: Any) -> ResponseReturnValue:
                return _resolve(instance.dispatch_request(**kwargs))  # type: ignore[no-any-return]

        if cls.decorators:
            view.__name__ = name
            view.__module__ = cls.__module__
            for decorator in cls.decorators:
                view = decorator(view)

        # Attributes add_url_rule reads; set after decorating so they stick.
        view.view_class = cls  # type: ignore[attr-defined]
        view.__name__ = name
        view.__doc__ = cls.__doc__
        view.__module__ = cls.__module__
        view.methods = cls.methods  # type: ignore[attr-defined]
        view.provide_automatic_options = cls.provide_automatic_options  # type: ignore[attr-defined]
        return view


class MethodView(View):
    """Dispatch to the method named after the HTTP method (``get``, ``post``...).

    ``methods`` is derived from the handlers the class and its bases define.

    Example::

        class ItemAPI(MethodView):
            def get(self, id): ...
            def delete(self, id): ...

        app.add_url_rule("/items/<int:id>", view_func=ItemAPI.as_view("item"))
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" in cls.__dict__:
            return
        methods: set[str] = set()
        for base in cls.__bases__:
            base_methods = getattr(base, "methods", None)
            if base_methods:
                methods.update(base_methods)
        for key in http_method_funcs:
            if hasattr(cls, key):
                methods.add(key.upper())
        if methods:
            cls.methods = methods

    def dispatch_request(self, **kwargs: Any) -> ResponseReturnValue:
        method = request.method
        meth = getattr(self, method.lower(), None)
        if meth is None and method == "HEAD":
            meth = getattr(self, "get", None)
        if meth is None:
            raise RuntimeError(
                f"{type(self).__name__} has no handler for {method!r};"
                f" define a '{method.lower()}' method or remove {method!r}"
                " from 'methods'."
            )
        return _resolve(meth(**kwargs))  # type: ignore[no-any-return]


__all__ = ["MethodView", "View", "http_method_funcs"]
