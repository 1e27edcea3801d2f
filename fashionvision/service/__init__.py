"""The HTTP service: search a gallery index with a photo (JSON API, web page, offline docs).

``create_app(index, settings=ServiceSettings(...))`` builds the FastAPI app;
``fashionvision serve --index DIR`` runs it with uvicorn.  Modules: `settings` (limits),
`protocol` (what the service needs of an index), `uploads` (bounded streaming upload),
`images` (decoding by content, bomb guard), `runner` (worker threads, bounded queue), `errors`
(the JSON error shape), `routes` (the endpoints), `app` (assembly), `static/` (the page).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServiceSettings", "create_app"]

# FastAPI is imported on first use: the CLI reads `settings` to build its parser.
_LAZY = {
    "create_app": "fashionvision.service.app",
    "ServiceSettings": "fashionvision.service.settings",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fashionvision.service' has no attribute {name!r}")
