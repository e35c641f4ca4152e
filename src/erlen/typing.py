"""The protocol and callback vocabulary shared by every erlen module.

Imports no erlen module; every other module may import this one.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    MutableMapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from werkzeug.datastructures import Headers

    from .wrappers.response import Response

# -- WSGI (PEP 3333) ------------------------------------------------------------
WSGIEnvironment: TypeAlias = dict[str, Any]
StartResponse: TypeAlias = Callable[..., Callable[[bytes], object]]
WSGIApplication: TypeAlias = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]

# -- ASGI 3 ---------------------------------------------------------------------
Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApplication: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

# -- What a view may return -----------------------------------------------------
ResponseValue: TypeAlias = (
    "Response | str | bytes | dict[str, Any] | list[Any] | Iterable[str] "
    "| Iterable[bytes] | AsyncIterable[str] | AsyncIterable[bytes]"
)
StatusCode: TypeAlias = int | str
HeaderValue: TypeAlias = str | int | Sequence[str]
HeadersValue: TypeAlias = (
    "Headers | Mapping[str, HeaderValue] | Sequence[tuple[str, HeaderValue]]"
)
ResponseReturnValue: TypeAlias = (
    "ResponseValue | tuple[ResponseValue, HeadersValue] "
    "| tuple[ResponseValue, StatusCode] "
    "| tuple[ResponseValue, StatusCode, HeadersValue] | WSGIApplication"
)

# -- Callbacks the app registers ------------------------------------------------
RouteCallable: TypeAlias = Callable[..., Any]
BeforeRequestCallable: TypeAlias = Callable[[], Any]
AfterRequestCallable: TypeAlias = Callable[[Any], Any]
TeardownCallable: TypeAlias = Callable[[BaseException | None], Any]
ErrorHandlerCallable: TypeAlias = Callable[[Any], Any]
TemplateContextProcessorCallable: TypeAlias = Callable[[], dict[str, Any]]
TemplateFilterCallable: TypeAlias = Callable[..., Any]
TemplateGlobalCallable: TypeAlias = Callable[..., Any]
TemplateTestCallable: TypeAlias = Callable[..., bool]
URLDefaultCallable: TypeAlias = Callable[[str, dict[str, Any]], None]
URLValuePreprocessorCallable: TypeAlias = Callable[
    [str | None, dict[str, Any] | None], None
]
ShellContextProcessorCallable: TypeAlias = Callable[[], dict[str, Any]]

T_route = TypeVar("T_route", bound=RouteCallable)
T_before_request = TypeVar("T_before_request", bound=BeforeRequestCallable)
T_after_request = TypeVar("T_after_request", bound=AfterRequestCallable)
T_teardown = TypeVar("T_teardown", bound=TeardownCallable)
T_error_handler = TypeVar("T_error_handler", bound=ErrorHandlerCallable)
T_template_context_processor = TypeVar(
    "T_template_context_processor", bound=TemplateContextProcessorCallable
)
T_template_filter = TypeVar("T_template_filter", bound=TemplateFilterCallable)
T_template_global = TypeVar("T_template_global", bound=TemplateGlobalCallable)
T_template_test = TypeVar("T_template_test", bound=TemplateTestCallable)
T_url_defaults = TypeVar("T_url_defaults", bound=URLDefaultCallable)
T_url_value_preprocessor = TypeVar(
    "T_url_value_preprocessor", bound=URLValuePreprocessorCallable
)
T_shell_context_processor = TypeVar(
    "T_shell_context_processor", bound=ShellContextProcessorCallable
)
