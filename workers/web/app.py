"""The console's FastAPI application: authentication and security headers around every request, the static
files, and the page and API routes (workers/web/pages.py, workers/web/api.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from feeds.errors import InvalidInput
from workers.web import api, pages
from workers.web.auth import SECURITY_HEADERS, host_allowed, same_origin, user_of
from workers.web.common import HERE, Console, templates


def create_app(console: Console) -> FastAPI:
    app = FastAPI(title="Marsad", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.console = console
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        cfg = console.runtime().settings.web
        response: Response
        if not host_allowed(request, cfg):
            response = PlainTextResponse("unknown host", status_code=421)
        elif (user := user_of(request, cfg)) is None:
            response = PlainTextResponse("authentication required", status_code=401,
                                         headers={"WWW-Authenticate": 'Basic realm="marsad", charset="UTF-8"'})
        elif request.method not in ("GET", "HEAD") and not same_origin(request):
            response = PlainTextResponse("cross-site request refused", status_code=403)
        else:
            request.state.user = user
            response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    @app.exception_handler(InvalidInput)
    async def invalid(request: Request, exc: InvalidInput) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.reason}, status_code=400)
        return templates.TemplateResponse(request, "error.html", {"error": exc.reason}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # a page's 404 is a page; the API keeps FastAPI's JSON body
        if request.url.path.startswith(("/api/", "/static/")):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return templates.TemplateResponse(request, "error.html", {"error": exc.detail}, status_code=exc.status_code,
                                          headers=exc.headers)

    @app.exception_handler(redis.exceptions.ConnectionError)
    @app.exception_handler(redis.exceptions.TimeoutError)
    async def no_redis(request: Request, exc: Exception) -> Response:
        reason = "Redis is not reachable: is `marsad up` (or the workers' Redis) running?"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": reason}, status_code=503)
        return templates.TemplateResponse(request, "error.html", {"error": reason}, status_code=503)

    app.include_router(api.router)
    app.include_router(pages.router)
    return app
