"""A route that calls its endpoint without FastAPI's per-call dependency solving.

The write endpoints take thousands of calls a second. FastAPI works out, on every call, how to
fill an endpoint's parameters; for a single-order POST that was about a quarter of the call's
CPU (measured in process). `DirectRoute` works it out once, when the route is made, from the same
signature that FastAPI reads for the OpenAPI document, so the document and the checks stay
those of the signature.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request, Response, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError


@dataclass(frozen=True)
class _Parameter:
    name: str
    source: Literal["request", "depends", "body", "header", "query", "path"]
    key: str = ""
    """The header's, query or path parameter's name in the request."""
    adapter: TypeAdapter[Any] | None = None
    default: Any = inspect.Parameter.empty
    """`empty` when the parameter is required."""
    dependency: Callable[[Request], Awaitable[Any]] | None = None


def _parameter(parameter: inspect.Parameter, annotation: Any) -> _Parameter:
    """How to fill one parameter of an endpoint, from its annotation."""
    name = parameter.name
    if annotation is Request:
        return _Parameter(name, "request")
    declared = [m for m in getattr(annotation, "__metadata__", ())
                if isinstance(m, params.Depends | params.Body | params.Header | params.Query
                              | params.Path)]
    if len(declared) != 1:
        raise TypeError(f"{name}: a DirectRoute parameter is the Request, or declares one "
                        "Depends, Body, Header, Query or Path")
    (how,) = declared
    default = parameter.default
    if isinstance(how, params.Depends):
        if how.dependency is None:
            raise TypeError(f"{name}: Depends needs the function that takes the request")
        return _Parameter(name, "depends", dependency=how.dependency)
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    if isinstance(how, params.Body):
        return _Parameter(name, "body", adapter=adapter)
    if isinstance(how, params.Header):
        return _Parameter(name, "header", how.alias or name.replace("_", "-"), adapter, default)
    if isinstance(how, params.Query):
        return _Parameter(name, "query", how.alias or name, adapter, default)
    return _Parameter(name, "path", how.alias or name, adapter, default)


def _is_json(content_type: str | None) -> bool:
    """`application/json` or `application/...+json`, with any parameters (FastAPI's rule)."""
    media = (content_type or "").partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class DirectRoute(APIRoute):
    """For endpoints whose parameters are the `Request`, dependencies that take only the
    request (`Depends`), one JSON body (`Body`), headers (`Header`), query (`Query`) and path
    (`Path`) parameters, each checked by the pydantic type it is declared with. The body is
    validated from its bytes (`validate_json`), without decoding it into Python objects
    first."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        hints = typing.get_type_hints(endpoint, include_extras=True)
        parameters = [_parameter(p, hints[p.name])
                      for p in inspect.signature(endpoint).parameters.values()]

        async def handle(request: Request) -> Response:
            arguments: dict[str, Any] = {}
            errors: list[Any] = []
            for parameter in parameters:
                if parameter.source == "request":
                    arguments[parameter.name] = request
                elif parameter.dependency is not None:
                    arguments[parameter.name] = await parameter.dependency(request)
                else:
                    arguments[parameter.name] = await _value(request, parameter, errors)
            if errors:
                raise RequestValidationError(errors)
            response: Response = await endpoint(**arguments)
            return response

        return handle


async def _value(request: Request, parameter: _Parameter, errors: list[Any]) -> Any:
    """The parameter's value, or None with its errors added to `errors`."""
    assert parameter.adapter is not None
    where: tuple[str, ...] = (parameter.source,) if parameter.source == "body" else (
        parameter.source, parameter.key)
    try:
        if parameter.source == "body":
            if not _is_json(request.headers.get("content-type")):
                errors.append({"type": "content_type", "loc": where, "input": None,
                               "msg": "send the body as JSON (Content-Type: "
                                      "application/json)"})
                return None
            return parameter.adapter.validate_json(await request.body())
        if parameter.source == "header":
            sent = request.headers.get(parameter.key)
        elif parameter.source == "query":
            sent = request.query_params.get(parameter.key)
        else:
            sent = request.path_params.get(parameter.key)
        if sent is not None:
            return parameter.adapter.validate_python(sent)
        if parameter.default is inspect.Parameter.empty:
            errors.append({"type": "missing", "loc": where, "input": None,
                           "msg": "Field required"})
            return None
        return parameter.default
    except ValidationError as invalid:
        errors.extend({**e, "loc": (*where, *e["loc"])} for e in invalid.errors())
        return None
