"""Errors as RFC 9457 problem details (`application/problem+json`), with a field-level list."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse

from clientela.api.models import DECIMAL_FIELDS, FieldError, Problem

MEDIA_TYPE = "application/problem+json"
UNION_TAGS = {"one", "batch"}


class ProblemError(Exception):
    def __init__(self, status: int, detail: str, *, errors: Sequence[FieldError] = (),
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, list(errors)
        self.headers = headers or {}


def problem_response(status: int, detail: str | None, errors: Sequence[FieldError] = (),
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail,
                   errors=list(errors))
    return JSONResponse(body.model_dump(), status_code=status, media_type=MEDIA_TYPE,
                        headers=headers)


def field_errors(errors: Sequence[Any]) -> list[FieldError]:
    """pydantic's errors with their location as a dotted path into the body or the query."""
    found = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        if location and location[0] in ("body", "query", "path"):
            location = location[1:] if location[0] == "body" else location
        location = [part for part in location if part not in UNION_TAGS
                    and not part.startswith("function-")]
        code, message = str(error["type"]), str(error["msg"]).removeprefix("Value error, ")
        decimal = DECIMAL_FIELDS.get(location[-1]) if location else None
        if (decimal is not None and code == "string_pattern_mismatch"
                and error.get("ctx", {}).get("pattern") == f"^{decimal.decimal_format}$"):
            code, message = decimal.decimal_problem(str(error["input"]))
        found.append(FieldError(field=".".join(location) or "body", code=code, message=message))
    return found


RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": description}
    for code, description in {
        401: "No key, or a key that is unknown or revoked",
        403: "The key's scope does not allow this",
        413: "The body is larger than [api] max_body_bytes",
        422: "Fields that do not validate, each with its location",
        429: "Too many requests for this key; retry after `Retry-After` seconds",
    }.items()}


def responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses every endpoint may give, and `extra` ones."""
    described = {404: "No such profile, order or call", 409: "A conflict: an impossible "
                 "status change, or an Idempotency-Key reused for another request"}
    return RESPONSES | {code: {"model": Problem, "content": {MEDIA_TYPE: {}},
                               "description": described[code]} for code in extra}
