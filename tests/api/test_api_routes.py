"""DirectRoute fills an endpoint's parameters as FastAPI would, checks them the same way, and
leaves the OpenAPI document unchanged."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from clientela.api.routes import DirectRoute


class Item(BaseModel):
    name: str
    price: Annotated[int, Body(ge=0)]


async def caller(request: Request) -> str:
    return request.headers.get("authorization", "nobody")


def _app(route_class: type[APIRoute]) -> FastAPI:
    app = FastAPI()
    router = APIRouter(route_class=route_class)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"errors": [[list(e["loc"]), e["type"]] for e in error.errors()]},
                            status_code=422)

    @router.post("/items/{shelf}", status_code=202)
    async def post_item(
        request: Request, who: Annotated[str, Depends(caller)],
        shelf: Annotated[str, Path(max_length=5)],
        item: Annotated[Item, Body()],
        lot: Annotated[int, Query(ge=1)],
        tag: Annotated[str | None, Header(alias="X-Tag", max_length=3)] = None,
        wait: Annotated[bool, Query()] = False,
    ) -> JSONResponse:
        return JSONResponse({"who": who, "shelf": shelf, "item": item.model_dump(), "lot": lot,
                             "tag": tag, "wait": wait, "method": request.method},
                            status_code=202)

    app.include_router(router)
    return app


class Client:
    """Calls the app in process (httpx's ASGI transport)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def post(self, url: str, **sent: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                         base_url="http://test") as client:
                return await client.post(url, **sent)
        return asyncio.run(call())


@pytest.fixture
def client() -> Client:
    return Client(_app(DirectRoute))


def test_every_parameter_is_filled(client: Client) -> None:
    answer = client.post("/items/top?wait=yes&lot=7", json={"name": "cup", "price": 3},
                         headers={"Authorization": "k1", "X-Tag": "red"})
    assert answer.status_code == 202
    assert answer.json() == {"who": "k1", "shelf": "top", "item": {"name": "cup", "price": 3},
                             "lot": 7, "tag": "red", "wait": True, "method": "POST"}
    defaults = client.post("/items/top?lot=1", json={"name": "cup", "price": 3}).json()
    assert (defaults["who"], defaults["tag"], defaults["wait"]) == ("nobody", None, False)


def test_every_bad_parameter_is_reported_with_its_location(client: Client) -> None:
    answer = client.post("/items/toolong?wait=maybe", json={"name": "cup", "price": -1},
                         headers={"X-Tag": "purple"})
    assert answer.status_code == 422
    assert sorted(answer.json()["errors"]) == sorted([
        [["path", "shelf"], "string_too_long"],
        [["body", "price"], "greater_than_equal"],
        [["header", "X-Tag"], "string_too_long"],
        [["query", "wait"], "bool_parsing"],
        [["query", "lot"], "missing"]])


def test_a_body_must_be_json(client: Client) -> None:
    sent = client.post("/items/top?lot=1", content=b"name=cup",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    broken = client.post("/items/top?lot=1", content=b"{",
                         headers={"Content-Type": "application/json"})
    assert sent.json()["errors"] == [[["body"], "content_type"]]
    typed = client.post("/items/top?lot=1", content=b'{"name": "cup", "price": 3}',
                        headers={"Content-Type": "Application/Vnd.Shop+JSON; charset=utf-8"})
    assert typed.status_code == 202
    assert broken.json()["errors"] == [[["body"], "json_invalid"]]


def test_the_openapi_document_is_the_signature_s() -> None:
    assert _app(DirectRoute).openapi() == _app(APIRoute).openapi()


def test_a_parameter_it_cannot_fill_is_refused_when_the_route_is_made() -> None:
    router = APIRouter(route_class=DirectRoute)

    async def plain(count: int) -> Any:
        return count

    with pytest.raises(TypeError, match="count"):
        router.add_api_route("/plain", plain, methods=["POST"])
