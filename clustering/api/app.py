"""The FastAPI application: routes, parameters bounded, the bearer token, one log line per
call, no traceback in any answer.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from fastapi import Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from clustering.api.queries import (
    DEFINITION,
    MAX_LIMIT,
    MAX_OFFSET,
    ClustersAnswer,
    ClusterSummary,
    DfuPage,
    summary_query,
    unassigned_query,
)
from clustering.config import DemandFeatureConfig, RunConfig, load_config
from clustering.errors import UserInputError, report_unexpected
from clustering.io.database import connect, masked
from clustering.io.dbread import read_only, table_ref
from clustering.io.pushdown import demand_query

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

TOKEN_VARIABLE = "CLUSTERING_API_TOKEN"


SUMMARY_SECONDS = 10.0  # the cluster summary changes only with a write-back: reuse it this long


OPEN_PATHS = ("/health",)
MAX_URL_BYTES = 2048  # the longest path and query string the routes need is under 200 bytes
MAX_BODY_BYTES = 0  # every route is a GET: a request with a body is refused


log = logging.getLogger("clustering.api")


def _guard(app: FastAPIOffline, token: str | None) -> None:
    """One log line per call; the bearer token where one is set; no traceback in any answer."""

    @app.middleware("http")
    async def _log_and_authorize(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        oversized = _oversized(request)
        if oversized is not None:
            response: Response = oversized
        elif token and request.url.path not in OPEN_PATHS and not _authorized(request, token):
            response = JSONResponse(
                status_code=401,
                content={"detail": "Missing or wrong bearer token: send 'Authorization: Bearer <token>'."},
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            try:
                response = await call_next(request)
            except Exception as error:  # a defect: logged to the file, never in the answer
                where = report_unexpected(error, f"answering {request.method} {request.url.path}")
                log.error(where)
                response = JSONResponse(
                    status_code=500, content={"detail": "Internal error; see the server log."}
                )
        elapsed = (time.perf_counter() - started) * 1000
        client = request.client.host if request.client else "-"
        log.info(
            "%s %s %s %d %.1f ms", client, request.method, request.url.path, response.status_code, elapsed
        )
        return response


class Recent:
    """The last answer of an expensive read (the cluster summary, one aggregation over the
    whole fact table), so that no caller waits for it once it exists: ``start`` computes it
    in the background when the API starts; once older than ``seconds`` it is still served
    while one background thread computes the next. Only callers that come before the very
    first answer wait (for that one computation). A failed refresh keeps the last answer and
    is logged; a failed first answer is raised to the callers waiting for it, and the next
    caller tries again."""

    def __init__(self, seconds: float, compute: Callable[[], Any]) -> None:
        self.seconds, self._compute = seconds, compute
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._value: Any = None
        self._has_value = False
        self._until = 0.0
        self._refreshing = False
        self._error: Exception | None = None

    def start(self) -> None:
        """Begin computing the answer in the background (a cold start answers from it)."""
        with self._lock:
            self._refresh_in_background()

    def wait_first(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the first computation to end; whether an answer exists."""
        with self._lock:
            self._changed.wait_for(lambda: self._has_value or not self._refreshing, timeout=seconds)
            return self._has_value

    def get(self) -> Any:
        with self._lock:
            if time.monotonic() >= self._until:
                self._refresh_in_background()
            while not self._has_value:
                if self._error is not None and not self._refreshing:
                    error, self._error = self._error, None
                    raise error
                if not self._refreshing:  # the last try failed and was reported: try again
                    self._refresh_in_background()
                self._changed.wait()
            return self._value

    def _refresh_in_background(self) -> None:
        """Start the one refresh (the lock is held)."""
        if not self._refreshing:
            self._refreshing = True
            threading.Thread(target=self._refresh, name="summary-refresh", daemon=True).start()

    def _refresh(self) -> None:
        try:
            value, error = self._compute(), None
        except Exception as failure:  # kept for the waiting callers; a stale answer stays served
            value, error = None, failure
            log.error(report_unexpected(failure, "refreshing the cluster summary"))
        with self._lock:
            if error is None:
                self._value, self._has_value = value, True
                self._until = time.monotonic() + self.seconds
            else:
                self._until = time.monotonic() + min(self.seconds, 1.0)  # retry soon, not at once
            self._error, self._refreshing = error, False
            self._changed.notify_all()


def _oversized(request: Request) -> JSONResponse | None:
    """The app's JSON error for a request larger than any route takes: a URL over
    ``MAX_URL_BYTES`` (414), or a body (413: the API only reads); None when it fits."""
    target = request.url.path + ("?" + request.url.query if request.url.query else "")
    if len(target.encode()) > MAX_URL_BYTES:
        detail = f"The URL is longer than {MAX_URL_BYTES:,} bytes; the routes take short query strings."
        return JSONResponse(status_code=414, content={"detail": detail})
    length = request.headers.get("content-length")
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    if chunked or (length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES)):
        detail = "This API only reads (GET): a request with a body is refused."
        return JSONResponse(status_code=413, content={"detail": detail})
    return None


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@dataclass(frozen=True)
class Warehouse:
    """The tables the API reads, checked to have the columns it needs."""

    engine: Engine
    dim: sa.TableClause
    fact: sa.TableClause
    key: str
    column: str
    features: DemandFeatureConfig
    timeout: float
    uncovered_label: str


def _warehouse(url: str, config: RunConfig) -> Warehouse:
    engine = connect(url)
    target = config.database.write_back
    key = target.key_column or config.id_column
    features = next(iter(config.datasets.values())).features
    if features is None:
        raise UserInputError("The cluster summary API needs a DFU config (with features): use --config dfu.")
    fact_name = config.database.tables.get(features.sales_sheet, features.sales_sheet)
    dim = table_ref(engine, target.table, config.database.schema_name)
    fact = table_ref(engine, fact_name, config.database.schema_name)
    for table, needed in ((dim, (key, target.column)), (fact, (features.id_column, features.value_column))):
        missing = [c for c in needed if c not in table.c]
        if missing:
            raise UserInputError(f"Table '{table.name}' has no column(s) {', '.join(missing)}.")
    timeout = config.database.statement_timeout_seconds
    return Warehouse(engine, dim, fact, key, target.column, features, timeout, target.uncovered_label)


def create_app(
    url: str,
    config: RunConfig | None = None,
    token: str | None = None,
    summary_seconds: float = SUMMARY_SECONDS,
) -> FastAPIOffline:
    """The API over the database at ``url`` (checked on start: a bad URL fails here, not later);
    with ``token``, every route but /health needs it as a bearer token. The cluster summary
    (one aggregation over the whole fact table) is reused for ``summary_seconds``."""
    warehouse = _warehouse(url, config or load_config("dfu"))
    app = FastAPIOffline(
        title="Clustering Studio: cluster summary",
        description=f"Read-only summaries of the clusters in {masked(url)}.",
        version="2",
    )
    _guard(app, token)
    _error_answers(app)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    recent = _summary_route(app, warehouse, summary_seconds)

    @asynccontextmanager
    async def _first_summary_before_serving(_: Any) -> AsyncIterator[None]:
        """The server takes its first request once the summary exists (or failed, to be said to
        its callers): a cold start answers from it instead of making every caller wait."""
        await asyncio.to_thread(recent.wait_first, warehouse.timeout + 5)
        yield

    app.router.lifespan_context = _first_summary_before_serving
    _dfu_route(app, warehouse)
    return app


def _error_answers(app: FastAPIOffline) -> None:
    """Bad parameters and user errors are 400s that say which and why."""

    @app.exception_handler(RequestValidationError)
    async def _bad_parameters(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}"[:200] for e in error.errors()]
        return JSONResponse(status_code=400, content={"detail": "; ".join(problems)})

    @app.exception_handler(UserInputError)
    async def _user_error(request: Request, error: UserInputError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(error)})


def _summary_route(app: FastAPIOffline, warehouse: Warehouse, seconds: float) -> Recent:
    features, label = warehouse.features, warehouse.uncovered_label
    demand = demand_query(warehouse.fact, features)
    query = summary_query(warehouse.dim, demand, warehouse.key, features.id_column, warehouse.column, label)
    unassigned = unassigned_query(warehouse.dim, warehouse.column, label)

    def summary() -> dict[str, Any]:
        with read_only(warehouse.engine, warehouse.timeout) as connection:
            rows = [dict(row) for row in connection.execute(query).mappings().all()]
            return {"rows": rows, "unassigned": connection.execute(unassigned).scalar_one()}

    recent = Recent(seconds, summary)
    recent.start()

    @app.get("/domains/dfu/clusters", response_model=ClustersAnswer)
    def clusters() -> ClustersAnswer:
        """Every cluster of dim_dfu with its DFU count, mean demand and mean cv (the features'
        definitions), and how many DFUs have no cluster."""
        answer = recent.get()
        rows = [
            ClusterSummary(**{**row, "cluster_assignment": str(row["cluster_assignment"])})
            for row in answer["rows"]
        ]
        return ClustersAnswer(
            clusters=rows, unassigned=answer["unassigned"], uncovered_label=label, definition=DEFINITION
        )

    return recent


def _dfu_route(app: FastAPIOffline, warehouse: Warehouse) -> None:
    dim, column = warehouse.dim, warehouse.column

    @app.get("/domains/dfu", response_model=DfuPage)
    def dfus(
        cluster_assignment: str | None = None,
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> DfuPage | JSONResponse:
        """DFUs of dim_dfu, optionally of one cluster, ordered by ID."""
        where = (
            []
            if cluster_assignment is None
            else [dim.c[column] == sa.bindparam("cluster", cluster_assignment)]
        )
        with read_only(warehouse.engine, warehouse.timeout) as connection:
            total = connection.execute(sa.select(sa.func.count()).select_from(dim).where(*where)).scalar_one()
            if cluster_assignment is not None and total == 0:
                return JSONResponse(
                    status_code=404,
                    content={
                        "detail": f"No DFU has cluster_assignment '{cluster_assignment[:100]}'. "
                        "GET /domains/dfu/clusters lists the clusters."
                    },
                )
            page = sa.select(dim).where(*where).order_by(dim.c[warehouse.key]).limit(limit).offset(offset)
            rows = connection.execute(page).mappings().all()
        return DfuPage(total=total, limit=limit, offset=offset, items=[dict(row) for row in rows])
