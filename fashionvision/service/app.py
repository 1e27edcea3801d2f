"""`create_app`: the FastAPI application serving a gallery index (JSON API + web page + docs).

The index (and with it the model) is loaded once: given ready-made, or loaded from `index_path`
in the app's start-up.  The interactive docs are a page of this package that reads
``/openapi.json``: FastAPI's default ``/docs`` loads Swagger UI from a CDN, which fails offline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from fashionvision import __version__
from fashionvision.service.errors import install_handlers
from fashionvision.service.protocol import SearchIndex
from fashionvision.service.routes import ServiceState, router
from fashionvision.service.runner import InferenceRunner
from fashionvision.service.settings import ServiceSettings

STATIC_DIR = Path(__file__).parent / "static"


def open_gallery_index(path: str | Path, device: str | None = None) -> SearchIndex:
    """Load a built index with its model (`fashionvision.retrieval.index.GalleryIndex`)."""
    from fashionvision.retrieval.index import GalleryIndex

    return GalleryIndex.open(path, device=device)


def create_app(
    index: SearchIndex | None = None,
    *,
    index_path: str | Path | None = None,
    device: str | None = None,
    settings: ServiceSettings | None = None,
) -> FastAPI:
    """The service for `index`, or for the index at `index_path` (loaded at start-up, on
    `device`); exactly one of the two.  `settings`: the limits (default `ServiceSettings()`).
    """
    if (index is None) == (index_path is None):
        raise ValueError("create_app: give either an index or an index_path")
    settings = settings or ServiceSettings()

    def new_runner() -> InferenceRunner:
        return InferenceRunner(settings.worker_threads, settings.max_queue, settings.retry_after_s)

    # This runner serves an app driven without start-up (an ASGI transport in tests); each run
    # of the server gets a fresh one, stopped at shut-down, so an app can be served again.
    state = ServiceState(settings=settings, runner=new_runner(), index=index)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.index is None:
            state.index = open_gallery_index(index_path, device)
        state.runner = new_runner()
        try:
            yield
        finally:
            state.runner.shutdown()

    app = FastAPI(
        title="fashionvision",
        version=__version__,
        description="Find the shop garments matching the clothes in a photo (Match R-CNN).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = state
    install_handlers(app)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(STATIC_DIR / "docs.html")

    return app
