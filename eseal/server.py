"""The all-in-one server: issuer, wallet and verifier in one Litestar process."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

from litestar import MediaType, get
from litestar.config.response_cache import ResponseCacheConfig
from litestar.datastructures import CacheControlHeader
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

import web
from eseal.services import Services, open_database, pooled, utcnow
from eseal.settings import Settings
from issuer.app import issuer_router, well_known_routes
from verifier.app import verifier_router
from wallet.app import wallet_router
from web.docs import SECURITY_SCHEMES, docs_router, openapi_plugins

__all__ = ["create_app"]

_STATIC = Path(web.__file__).parent / "static"
MAX_BODY = 11 * 1024 * 1024


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    clock: Callable[[], object] = utcnow,
    migrate: bool = False,
) -> web.App:
    """Mount the three services; the database is opened on startup."""
    services = services or Services.from_settings(settings)
    engine_box: list[object] = []

    async def open_db() -> None:
        engine = await open_database(settings, run_migrations=migrate)
        if pooled(engine):
            await engine.start_connection_pool()  # type: ignore[no-untyped-call]
        engine_box.append(engine)
        # What start-up made lives as long as the process: keep it out of
        # the collector's full passes, which otherwise pause answers.
        gc.collect()
        gc.freeze()

    async def close_db() -> None:
        # Let the collector see start-up objects again: native extensions
        # (zxing-cpp) count on their objects being freed at exit.
        gc.unfreeze()
        try:
            await services.issuer.settle()
            await services.verifier.log.flush()
        finally:
            # Whether or not the last lines could be written (the database
            # may be away), the pool's connections are closed.
            for engine in engine_box:
                if pooled(engine):  # type: ignore[arg-type]
                    await engine.close_connection_pool()  # type: ignore[attr-defined]

    @get("/", media_type=MediaType.HTML, include_in_schema=False)
    async def index() -> Redirect:
        return Redirect("/verifier/")

    return web.App(
        route_handlers=[
            index,
            issuer_router(
                services.issuer,
                services.offers,
                clock=clock,  # type: ignore[arg-type]
                proofs=services.proofs,
            ),
            *well_known_routes(services.issuer),
            wallet_router(services.wallet, clock=clock),  # type: ignore[arg-type]
            verifier_router(services.verifier, clock=clock),  # type: ignore[arg-type]
            create_static_files_router(
                path="/static",
                directories=[_STATIC],
                # Style and scripts, no personal data: a browser may keep them.
                cache_control=CacheControlHeader(max_age=3600),
            ),
        ],
        on_startup=[open_db],
        on_shutdown=[close_db],
        openapi_config=OpenAPIConfig(
            title="eSeal",
            version="1",
            openapi_router=docs_router(),
            render_plugins=openapi_plugins(),
            use_handler_docstrings=True,
            components=SECURITY_SCHEMES,
        ),
        exception_handlers=web.exception_handlers(),
        request_max_body_size=MAX_BODY,
        middleware=[web.request_limits],
        before_send=[web.add_security_headers, web.complete_allow],
        before_request=web.refuse_head,
        logging_config=LoggingConfig(
            log_exceptions="never", disable_stack_trace={Exception}
        ),
        response_cache_config=ResponseCacheConfig(),
        debug=False,
    )
