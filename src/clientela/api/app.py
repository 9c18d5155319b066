"""The HTTP API (FastAPI): writes go to the ingest log, reads come from the serving tables.

An API process only ever opens the operational store (SQLite) of the instances it serves; the
analytics store belongs to the worker. Each key names its instance, and every query runs against
that instance's store alone, so a key of one instance cannot reach another's data.

(No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations,
which name types local to `create_app`.)
"""

import asyncio
import base64
import hashlib
import json
import math
import pathlib
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter
from pydantic import Field as Property
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clientela.api import examples, log
from clientela.api.keys import ApiKey, instance_of, verify
from clientela.api.keys import Scope as KeyScope
from clientela.api.models import (
    Accepted,
    Customer,
    CustomersBody,
    Event,
    EventsBody,
    FieldError,
    Identify,
    Order,
    OrdersBody,
    StatusChange,
)
from clientela.api.problems import ProblemError, field_errors, problem_response, responses
from clientela.api.routes import DirectRoute
from clientela.config import Instance
from clientela.identity.lookup import IdentityError, parse
from clientela.identity.rules import IdentityRules
from clientela.serving.realtime import unpublish_profile
from clientela.stores import operational

MAX_PAGE = 500
Endpoint = Callable[..., Awaitable[JSONResponse]]
ORDERS: TypeAdapter[list[Any]] = TypeAdapter(list[Order])  # type: ignore[valid-type]
CUSTOMERS: TypeAdapter[list[Any]] = TypeAdapter(list[Customer])  # type: ignore[valid-type]
EVENTS: TypeAdapter[list[Any]] = TypeAdapter(list[Event])
KEY_RECHECK_SECONDS = 1.0
"""How long a revoked key may still be taken by an API process that has seen it."""


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Tenant:
    """One instance as the API process sees it: its log writer and its readers."""

    instance: Instance
    appender: log.Appender
    rules: IdentityRules
    local: threading.local = field(default_factory=threading.local)
    buckets: dict[int, _Bucket] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[str, tuple[ApiKey, float]] = field(default_factory=dict)
    applied: log.AppliedSignal | None = None
    """The worker's, when it runs in this process."""

    def live_key(self, token: str) -> ApiKey | None:
        """The live key `token` is. A known key is checked against the store again after
        KEY_RECHECK_SECONDS, so a revocation reaches every API process within that time
        without a query on every call."""
        now = time.monotonic()
        known = self.keys.get(token)
        if known is not None and now - known[1] < KEY_RECHECK_SECONDS:
            return known[0]
        key = verify(self.reader(), token)
        if key is None:
            self.keys.pop(token, None)
        else:
            self.keys[token] = (key, now)
        return key

    def reader(self) -> sqlite3.Connection:
        """This thread's connection to the operational store."""
        return self._thread_connection("ops", self.instance.operational_path)

    def log_reader(self) -> sqlite3.Connection:
        """This thread's connection to the ingest log (the appender made it at start)."""
        return self._thread_connection("log", self.instance.ingest_log_path)

    def _thread_connection(self, name: str, path: pathlib.Path) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self.local, name, None)
        if con is None:
            con = sqlite3.connect(path, timeout=30, isolation_level=None,
                                  check_same_thread=False)
            con.execute("PRAGMA journal_mode = WAL")
            setattr(self.local, name, con)
        return con

    def take_token(self, key_id: int) -> float:
        """0 when the call may go on, else the seconds to wait (token bucket per key)."""
        settings = self.instance.settings.api
        if not settings.rate_limit:
            return 0.0
        with self.lock:
            now = time.monotonic()
            bucket = self.buckets.setdefault(key_id, _Bucket(settings.rate_burst, now))
            bucket.tokens = min(settings.rate_burst,
                                bucket.tokens + (now - bucket.at) * settings.rate_limit)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / settings.rate_limit


@dataclass(frozen=True)
class Caller:
    tenant: Tenant
    key: ApiKey


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    return token.strip() if kind.lower() == "bearer" and token.strip() else None


class BodyLimit:
    """413 for a body over the instance's `[api] max_body_bytes`, whether it announces its
    length or streams it."""

    def __init__(self, app: ASGIApp, limits: Callable[[str | None], int]) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        kind, _, token = headers.get("authorization", "").partition(" ")
        limit = self.limits(instance_of(token.strip()) if kind.lower() == "bearer" else None)
        announced = headers.get("content-length", "")
        if announced.isdigit() and int(announced) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        received = 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise ProblemError(413, f"the body is larger than {limit} bytes "
                                            "([api] max_body_bytes)")
            return message

        await self.app(scope, counting, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(413, f"the body is larger than {limit} bytes "
                                         "([api] max_body_bytes)")
        await response(scope, receive, send)


class ProfileOut(BaseModel):
    client_id: int
    alias_asked: int | None = Property(None, description="The client id asked for, when it "
                                                         "was merged into this profile")
    recognized: bool
    email: str | None
    identifiers: list[dict[str, Any]]
    attributes: dict[str, Any]
    tags: list[str]
    consents: dict[str, Any]
    rfm_group: str | None
    rfm_segment: str | None
    indicators: dict[str, Any] | None


class Timeline(BaseModel):
    events: list[dict[str, Any]]
    next: str | None


class OrderPage(BaseModel):
    orders: list[dict[str, Any]]
    next: str | None


class Health(BaseModel):
    status: str
    instances: list[str]


def create_app(tenants: dict[str, Tenant]) -> FastAPI:
    app = FastAPI(
        title="Clientela API",
        version="1",
        description="Orders, customers and events in; profiles out. Every write is "
                    "acknowledged (202) only once it is in the durable ingest log. See "
                    "docs/api.md.",
    )
    largest = max((t.instance.settings.api.max_body_bytes for t in tenants.values()),
                  default=10_485_760)
    app.add_middleware(BodyLimit, limits=lambda name: (
        tenants[name].instance.settings.api.max_body_bytes if name in tenants else largest))

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(error.status, error.detail, error.errors, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return problem_response(422, "the request does not validate",
                                field_errors(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem_response(error.status_code, str(error.detail))

    def caller(scope: KeyScope) -> Callable[[Request], Awaitable[Caller]]:
        async def authorise(request: Request) -> Caller:
            token = _bearer(request)
            if token is None:
                raise ProblemError(401, "send an API key as `Authorization: Bearer KEY`",
                                   headers={"WWW-Authenticate": "Bearer"})
            name = instance_of(token)
            tenant = tenants.get(name or "")
            key = tenant.live_key(token) if tenant else None
            if tenant is None or key is None:
                raise ProblemError(401, "unknown or revoked API key",
                                   headers={"WWW-Authenticate": "Bearer"})
            if not key.scope.allows(scope):
                raise ProblemError(403, f"this key's scope is {key.scope.value}; this needs "
                                        f"{scope.value}")
            wait = tenant.take_token(key.id)
            if wait:
                raise ProblemError(429, "too many requests for this key ([api] rate_limit)",
                                   headers={"Retry-After": str(max(1, math.ceil(wait)))})
            return Caller(tenant, key)
        return authorise

    Writer = Annotated[Caller, Depends(caller(KeyScope.WRITE))]  # noqa: N806 (a type)
    Reader = Annotated[Caller, Depends(caller(KeyScope.READ))]  # noqa: N806 (a type)
    Admin = Annotated[Caller, Depends(caller(KeyScope.ADMIN))]  # noqa: N806 (a type)
    IdempotencyKey = Annotated[str | None, Header(  # noqa: N806 (a type)
        alias="Idempotency-Key", max_length=200,
        description="Makes a retry safe: the same key with the same request gets the first "
                    "call's answer and is not logged again")]
    Wait = Annotated[bool, Query(description="Answer only once the call is applied (or after "  # noqa: N806 (a type)
                                             "[api] wait_seconds)")]

    async def applied(tenant: Tenant, logged: log.Logged) -> log.Logged:
        """`logged` once the worker has applied it, or as it is after `wait_seconds`."""
        deadline = time.monotonic() + tenant.instance.settings.api.wait_seconds
        pause = 0.002
        while (left := deadline - time.monotonic()) > 0:
            woken = tenant.applied.waiter() if tenant.applied else None
            current = log.lookup(tenant.log_reader(), tenant.reader(), logged.ingest_id)
            if current is not None and current.state != "pending":
                return log.Logged(current.ingest_id, current.state, current.records,
                                  logged.replayed, current.outcome)
            if woken is None:
                await asyncio.sleep(min(pause, left))
                pause = min(pause * 1.5, 0.05)
            else:
                await asyncio.wait([woken], timeout=left)
        return logged

    async def accept(request: Request, who: Caller, item: log.Append, key: str | None,
                     wait: bool) -> JSONResponse:
        if key is not None:
            item.idempotency_key = key
            item.request_hash = hashlib.sha256(
                request.method.encode() + b" " + request.url.path.encode() + b"\n"
                + await request.body()).hexdigest()
        try:
            logged = await who.tenant.appender.append(item)
        except log.IdempotencyConflictError as error:
            raise ProblemError(409, str(error)) from None
        except log.UnknownOrderError as error:
            raise ProblemError(404, str(error)) from None
        except log.TransitionError as error:
            raise ProblemError(409, str(error)) from None
        if wait and logged.state == "pending":
            logged = await applied(who.tenant, logged)
        body = Accepted(ingest_id=logged.ingest_id, state=logged.state,  # type: ignore[arg-type]
                        records=logged.records, replayed=logged.replayed,
                        outcome=logged.outcome)
        return JSONResponse(body.model_dump(), status_code=202,
                            headers={"Location": f"/v1/ingest/{logged.ingest_id}"})

    def _records(body: BaseModel, key: str) -> list[Any]:
        # Not getattr: a missing attribute costs pydantic an exception, on every single call.
        many = vars(body).get(key)
        return list(many) if isinstance(many, list) else [body]

    def _check_batch(who: Caller, records: list[Any], key: str) -> None:
        most = who.tenant.instance.settings.api.max_batch
        if len(records) > most:
            raise ProblemError(422, f"{len(records)} records in one call; at most {most} "
                                    "([api] max_batch)",
                               errors=[FieldError(field=key, code="too_long",
                                                  message=f"at most {most} items")])

    def _check_status(who: Caller, status: str | None, where: str) -> str:
        orders = who.tenant.instance.settings.orders
        chosen = (status or orders.default_status).lower()
        if chosen not in orders.statuses:
            raise ProblemError(422, "unknown order status", errors=[FieldError(
                field=where, code="unknown_status",
                message=f"{status!r} is not a status of the order pipeline "
                        f"({', '.join(orders.statuses)})")])
        return chosen

    accepted: dict[int | str, dict[str, Any]] = {
        202: {"model": Accepted, "description": "Committed to the ingest log"}}

    def write(method: str, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """A write endpoint, on a DirectRoute of the app's own router (an included router
        would add a layer of matching to every call)."""
        def register(endpoint: Endpoint) -> Endpoint:
            app.router.add_api_route(path, endpoint, methods=[method], status_code=202,
                                     route_class_override=DirectRoute, **options)
            return endpoint
        return register

    @write("POST", "/v1/orders", tags=["orders"], responses=accepted | responses(409))
    async def post_orders(
        request: Request, who: Writer,
        body: Annotated[OrdersBody, examples.body("orders")],
        idempotency_key: IdempotencyKey = None, wait: Wait = False,
    ) -> JSONResponse:
        """One order, or `{"orders": [...]}` (up to [api] max_batch), with nested lines and
        categories: the Orders, OrderDetails and OrderDetailCategories files in one record.
        A re-sent order replaces the stored one (an upsert by StoreCode and OrderNumber)."""
        records = _records(body, "orders")
        many = len(records) > 1 or "orders" in vars(body)
        _check_batch(who, records, "orders")
        checks = []
        for index, order in enumerate(records):
            where = f"orders.{index}.status" if many else "status"
            checks.append(log.StatusCheck(order.store_code, order.order_number,
                                          _check_status(who, order.status, where), False))
        payload = log.encode_records(ORDERS, records, exclude_none=True)
        return await accept(request, who, log.Append(who.key.id, "orders", payload,
                                                     len(records), statuses=checks),
                            idempotency_key, wait)

    @write("PATCH", "/v1/orders/{store_code}/{order_number}", tags=["orders"],
           responses=accepted | responses(404, 409))
    async def patch_order(
        request: Request, who: Writer,
        store_code: Annotated[str, Path(max_length=30)],
        order_number: Annotated[str, Path(max_length=50)],
        body: Annotated[StatusChange, examples.body("status")],
        idempotency_key: IdempotencyKey = None, wait: Wait = False,
    ) -> JSONResponse:
        """A status change through the instance's order pipeline ([orders] transitions); an
        impossible transition is a 409. Attributes (delivery company, tracking...) may come
        with it."""
        status = _check_status(who, body.status, "status")
        payload = log.encode({"store_code": store_code, "order_number": order_number,
                              "status": status, "attributes": body.attributes})
        check = log.StatusCheck(store_code, order_number, status, True)
        return await accept(request, who, log.Append(who.key.id, "order_status", payload, 1,
                                                     statuses=[check]), idempotency_key, wait)

    @write("POST", "/v1/customers", tags=["customers"], responses=accepted | responses(409))
    async def post_customers(
        request: Request, who: Writer,
        body: Annotated[CustomersBody, examples.body("customers")],
        idempotency_key: IdempotencyKey = None, wait: Wait = False,
    ) -> JSONResponse:
        """One customer, or `{"customers": [...]}`: an upsert by UserId (and StoreCode when ids
        are store-scoped). Fields left out keep their stored value; attributes are merged;
        tags are added or removed; consents are kept as proof."""
        records = _records(body, "customers")
        _check_batch(who, records, "customers")
        if who.tenant.instance.settings.files.store_scoped_customer_ids:
            missing = [FieldError(field=f"customers.{i}.store_code", code="missing",
                                  message="this instance numbers customer ids per store")
                       for i, c in enumerate(records) if not c.store_code]
            if missing:
                raise ProblemError(422, "store_code is required", errors=missing)
        payload = log.encode_records(CUSTOMERS, records, exclude_unset=True)
        return await accept(request, who, log.Append(who.key.id, "customers", payload,
                                                     len(records)), idempotency_key, wait)

    @write("POST", "/v1/events", tags=["events"], responses=accepted | responses(409))
    async def post_events(
        request: Request, who: Writer,
        body: Annotated[EventsBody, examples.body("events")],
        idempotency_key: IdempotencyKey = None, wait: Wait = False,
    ) -> JSONResponse:
        """Track calls: page_view, product_view, add_to_cart, form.submit or custom events,
        each with the identifiers it carries (identifiers named together are linked)."""
        records = _records(body, "events")
        _check_batch(who, records, "events")
        payload = log.encode_records(EVENTS, records)
        return await accept(request, who, log.Append(who.key.id, "events", payload,
                                                     len(records)), idempotency_key, wait)

    @write("POST", "/v1/identify", tags=["events"], responses=accepted | responses(409))
    async def post_identify(
        request: Request, who: Writer,
        body: Annotated[Identify, examples.body("identify")],
        idempotency_key: IdempotencyKey = None, wait: Wait = False,
    ) -> JSONResponse:
        """Link identifiers of one person, e.g. a browser cookie to the email just typed."""
        return await accept(request, who, log.Append(who.key.id, "identify",
                                                     body.model_dump_json(), 1),
                            idempotency_key, wait)

    @app.get("/v1/ingest/{ingest_id}", tags=["ingest"], response_model=Accepted,
             responses=responses(404))
    def get_ingest(who: Writer, ingest_id: Annotated[int, Path(ge=1, le=2**62)]) -> Accepted:
        """Where an acknowledged call is: pending, applied (with what applying did) or
        failed."""
        found = log.lookup(who.tenant.log_reader(), who.tenant.reader(), ingest_id)
        if found is None:
            raise ProblemError(404, f"no call {ingest_id} in the ingest log")
        return Accepted(ingest_id=found.ingest_id, state=found.state,  # type: ignore[arg-type]
                        records=found.records, replayed=False, outcome=found.outcome)

    def resolve(who: Caller, kind: str, value: str) -> tuple[int, int | None]:
        """(client id, the alias asked for) of a profile named by any identifier."""
        ops = who.tenant.reader()
        try:
            parsed = parse(f"{kind}:{value}", who.tenant.rules)
        except IdentityError as error:
            raise ProblemError(404, str(error)) from None
        if isinstance(parsed, int):
            if ops.execute("SELECT 1 FROM serving_documents WHERE client_id = ?",
                           (parsed,)).fetchone():
                return parsed, None
            row = ops.execute("SELECT client_id FROM serving_aliases WHERE alias = ?",
                              (parsed,)).fetchone()
        else:
            row = ops.execute("SELECT client_id FROM serving_identifiers WHERE type = ? AND "
                              "scope = ? AND value = ?", parsed).fetchone()
        if row is None:
            raise ProblemError(404, f"no profile has {kind} {value!r}")
        return int(row[0]), parsed if isinstance(parsed, int) else None

    Kind = Annotated[str, Path(description="user_id, email, email_sha256, phone, cookie, "  # noqa: N806 (a type)
                                           "custom:NAME or client_id", max_length=60)]
    Value = Annotated[str, Path(description="The identifier (user_id:STORE:ID when customer "  # noqa: N806 (a type)
                                            "ids are store-scoped: give `STORE:ID`)",
                                max_length=300)]

    @app.get("/v1/profiles/{kind}/{value}", tags=["profiles"], response_model=ProfileOut,
             responses=responses(404))
    def get_profile(who: Reader, kind: Kind, value: Value) -> ProfileOut:
        """The resolved profile: identifiers, attributes, tags, consents, indicators and RFM
        (as of the last micro-batch that touched it)."""
        client_id, alias = resolve(who, kind, value)
        ops = who.tenant.reader()
        document = ops.execute("SELECT document FROM serving_documents WHERE client_id = ?",
                               (client_id,)).fetchone()
        if document is None:
            raise ProblemError(404, f"no profile has {kind} {value!r}")
        indicators = ops.execute("SELECT rfm_group, rfm_segment, indicators FROM "
                                 "serving_profiles WHERE client_id = ?", (client_id,)).fetchone()
        found = json.loads(document[0])
        return ProfileOut(
            **found, alias_asked=alias,
            rfm_group=indicators[0] if indicators else None,
            rfm_segment=indicators[1] if indicators else None,
            indicators=json.loads(indicators[2]) if indicators else None)

    @app.get("/v1/profiles/{kind}/{value}/events", tags=["profiles"], response_model=Timeline,
             responses=responses(404))
    def get_timeline(
        who: Reader, kind: Kind, value: Value,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        before: Annotated[str | None, Query(description="`next` of the previous page",
                                            max_length=100)] = None,
    ) -> Timeline:
        """The profile's events, newest first, over all its identifiers."""
        client_id, _ = resolve(who, kind, value)
        cursor = before or "9999"
        rows = who.tenant.reader().execute("""
            SELECT DISTINCT e.occurred_at, e.ingest_id, e.seq, e.document
            FROM serving_identifiers i JOIN serving_events e
              ON e.type = i.type AND e.scope = i.scope AND e.value = i.value
            WHERE i.client_id = ? AND e.occurred_at < ?
            ORDER BY e.occurred_at DESC, e.ingest_id DESC, e.seq DESC LIMIT ?
        """, (client_id, cursor, limit + 1)).fetchall()
        events = [json.loads(r[3]) for r in rows[:limit]]
        return Timeline(events=events, next=rows[limit - 1][0] if len(rows) > limit else None)

    @app.delete("/v1/profiles/{kind}/{value}", status_code=202, tags=["profiles"],
                responses=accepted | responses(404, 409))
    async def delete_profile(request: Request, who: Admin, kind: Kind, value: Value,
                             idempotency_key: IdempotencyKey = None,
                             wait: Wait = False) -> JSONResponse:
        """Erasure: the person leaves the serving copy at once and the analytics store when
        the worker reaches the call (every identifier, link, attribute, event and order, with
        a tombstone so that no late file brings them back)."""
        client_id, _ = resolve(who, kind, value)
        logged = await accept(request, who, log.Append(who.key.id, "erasure",
                                                       log.encode({"client_id": client_id}), 1),
                              idempotency_key, wait)
        ops = who.tenant.reader()
        with operational.transaction(ops):
            unpublish_profile(ops, client_id)
        return logged

    @app.get("/v1/orders", tags=["orders"], response_model=OrderPage, responses=responses())
    def get_orders(
        who: Reader,
        email: Annotated[str | None, Query(max_length=254)] = None,
        user_id: Annotated[str | None, Query(max_length=50)] = None,
        store_code: Annotated[str | None, Query(max_length=30)] = None,
        order_number: Annotated[str | None, Query(max_length=50)] = None,
        on: Annotated[date | None, Query(alias="date", description="Local date")] = None,
        date_from: Annotated[date | None, Query(description="Local date, inclusive")] = None,
        date_to: Annotated[date | None, Query(description="Local date, inclusive")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        after: Annotated[str | None, Query(description="`next` of the previous page",
                                           max_length=400)] = None,
    ) -> OrderPage:
        """Orders filtered by email, source user id, store, order number, a date or a date
        range (the instance's local dates), newest first, a page at a time."""
        where, params = ["1 = 1"], []
        ops = who.tenant.reader()
        if email is not None:
            normalised = who.tenant.rules.normalise("email", email)
            users = ops.execute("""
                SELECT u.scope, u.value FROM serving_identifiers e
                JOIN serving_identifiers u ON u.client_id = e.client_id AND u.type = 'user_id'
                WHERE e.type = 'email' AND e.scope = '' AND e.value = ?
            """, (normalised,)).fetchall()
            where.append("(scope, user_id) IN (SELECT value ->> 0, value ->> 1 FROM "
                         "json_each(?))")
            params.append(json.dumps([list(u) for u in users]))
        for column, value in (("user_id", user_id), ("store_code", store_code),
                              ("order_number", order_number)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if on is not None:
            where.append("order_date = ?")
            params.append(on.isoformat())
        if date_from is not None:
            where.append("order_date >= ?")
            params.append(date_from.isoformat())
        if date_to is not None:
            where.append("order_date <= ?")
            params.append(date_to.isoformat())
        if after is not None:
            try:
                last = json.loads(base64.urlsafe_b64decode(after.encode()))
                where.append("(order_ts, store_code, order_number) < (?, ?, ?)")
                params += [str(last[0]), str(last[1]), str(last[2])]
            except (ValueError, IndexError, TypeError):
                raise ProblemError(422, "`after` is not a page token", errors=[FieldError(
                    field="after", code="bad_token",
                    message="use `next` of the previous page")]) from None
        rows = ops.execute(
            f"SELECT order_ts, store_code, order_number, document FROM serving_orders "
            f"JOIN serving_order_documents USING (order_key) WHERE {' AND '.join(where)} "
            f"ORDER BY order_ts DESC, store_code DESC, order_number DESC LIMIT ?",
            (*params, limit + 1)).fetchall()
        token = None
        if len(rows) > limit:
            last_row = rows[limit - 1]
            token = base64.urlsafe_b64encode(json.dumps(list(last_row[:3])).encode()).decode()
        return OrderPage(orders=[json.loads(r[3]) for r in rows[:limit]], next=token)

    @app.get("/health", tags=["ingest"], response_model=Health)
    def health() -> Health:
        """Whether the server is up, and which instances it serves."""
        return Health(status="ok", instances=sorted(tenants))

    return app
