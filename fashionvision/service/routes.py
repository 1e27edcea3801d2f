"""The JSON API: ``POST /search``, ``GET /items/{id}``, ``GET /items/{id}/image``, ``GET /health``,
``GET /categories``.

Items are addressed by their integer id only; ``/items/{id}/image`` serves the file the index
recorded for that id, so a client never names a path (nothing to traverse).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from fashionvision.categories import CATEGORY_NAMES, category_id_from_text
from fashionvision.errors import FashionVisionError
from fashionvision.service.errors import ApiError
from fashionvision.service.images import decode_image
from fashionvision.service.protocol import SearchIndex
from fashionvision.service.runner import InferenceRunner
from fashionvision.service.settings import ServiceSettings
from fashionvision.service.uploads import read_file_field

UPLOAD_FIELD = "image"
MAX_TOP_K = 100
# What /health tells of the index: how it searches and what it holds, not where its files
# (checkpoint, indexed folder) are on the server.
PUBLIC_INDEX_INFO = (
    "backend", "kind", "ranking", "dim", "per_category", "format_version", "created", "updated",
)  # fmt: skip
T = TypeVar("T")


@dataclass
class ServiceState:
    """What the endpoints share; `index` is None until the app's start-up has loaded it."""

    settings: ServiceSettings
    runner: InferenceRunner
    index: SearchIndex | None = None


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer's body."""

    error: ErrorDetail


# What each error status means here, for the API docs.
_ERROR_MEANINGS = {
    400: "truncated or corrupt image, or malformed multipart body",
    404: "no item with this id in the index",
    413: "upload above the size limit, or image above the pixel limit",
    415: "not a JPEG, PNG or WebP image, or a body that is not multipart/form-data",
    422: "invalid parameter, or the image field missing or empty",
    503: "too many searches waiting (see Retry-After), or the index still loading",
    504: "the search took longer than the time limit",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorBody, "description": _ERROR_MEANINGS[s]} for s in statuses}


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [UPLOAD_FIELD],
                    "properties": {
                        UPLOAD_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "the photo (JPEG, PNG or WebP)",
                        }
                    },
                }
            }
        },
    }
}

router = APIRouter()


def service_state(request: Request) -> ServiceState:
    return request.app.state.service


State = Annotated[ServiceState, Depends(service_state)]


def ready_index(state: State) -> SearchIndex:
    if state.index is None:
        raise ApiError(503, "not_ready", "the index is still loading", {"Retry-After": "5"})
    return state.index


Index = Annotated[SearchIndex, Depends(ready_index)]


def image_url(item_id: int) -> str:
    return f"/items/{item_id}/image"


def parse_category(value: str | None) -> int | None:
    """A category id 1..13 or name (any case, ``_`` for spaces); None or blank for all."""
    if value is None or not value.strip():
        return None
    try:
        return category_id_from_text(value)
    except ValueError as exc:
        raise ApiError(422, "invalid_category", str(exc)) from None


def _search_photo(
    index: SearchIndex,
    data: bytes,
    max_pixels: int,
    top_k: int,
    category: int | None,
    score_threshold: float,
) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """Decode and search in one worker-thread job: decoding a large photo is CPU work too."""
    image = decode_image(data, max_pixels)
    try:
        garments = index.search(
            image, top_k=top_k, category=category, score_threshold=score_threshold
        )
    except FashionVisionError as exc:
        raise ApiError(422, "search_failed", str(exc)) from None
    return [g.to_dict() for g in garments], image.size


@router.post(
    "/search",
    summary="Detect the garments of a photo and find each one's closest shop items",
    openapi_extra=_UPLOAD_BODY,
    responses=_errors(400, 413, 415, 422, 503, 504),
)
async def search(
    request: Request,
    state: State,
    index: Index,
    top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K, description="matches per garment")] = 20,
    category: Annotated[
        str | None, Query(description="only garments of this category: an id 1..13 or a name")
    ] = None,
    score_threshold: Annotated[
        float, Query(ge=0, le=1, description="keep garments detected with at least this score")
    ] = 0.5,
) -> dict[str, Any]:
    started = time.perf_counter()
    category_id = parse_category(category)
    settings = state.settings
    try:
        async with asyncio.timeout(settings.timeout_s):
            data = await read_file_field(request, UPLOAD_FIELD, settings.max_upload_bytes)
            garments, (width, height) = await state.runner.run(
                _search_photo,
                index,
                data,
                settings.max_pixels,
                top_k,
                category_id,
                score_threshold,
            )
    except TimeoutError:
        raise ApiError(
            504, "timeout", f"the search took longer than the limit of {settings.timeout_s:g} s"
        ) from None
    for garment in garments:
        for match in garment["matches"]:
            match["image_url"] = image_url(match["item_id"])
    return {
        "garments": jsonable_encoder(garments),
        "image": {"width": width, "height": height},
        "took_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _lookup(get: Callable[[int], T], item_id: int) -> T:
    """`get(item_id)`, 404 for an id not in the index.  Negative ids are refused before asking:
    an index backed by an array would read them from its end."""
    try:
        if item_id < 0:
            raise KeyError(item_id)
        return get(item_id)
    except KeyError:
        raise ApiError(404, "item_not_found", f"no item {item_id} in the index") from None


@router.get(
    "/items/{item_id}",
    summary="One indexed shop garment's metadata",
    responses=_errors(404, 422, 503),
)
async def item(item_id: int, index: Index) -> dict[str, Any]:
    data = jsonable_encoder(_lookup(index.item, item_id).to_dict())
    data["image_url"] = image_url(item_id)
    return data


@router.get(
    "/items/{item_id}/image",
    summary="The shop image an indexed garment was found in",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, **_errors(404, 422, 503)},
)
async def item_image(item_id: int, index: Index) -> FileResponse:
    path = _lookup(index.image_path, item_id)
    if not path.is_file():
        raise ApiError(404, "image_missing", f"the image file of item {item_id} is missing")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/health", summary="Whether the index and model are loaded, and the index's size")
async def health(state: State) -> JSONResponse:
    if state.index is None:
        body = {"status": "loading", "items": 0, "model_loaded": False}
        return JSONResponse(body, status_code=503)
    info = state.index.info()
    body = {
        "status": "ok",
        "items": len(state.index),
        "model_loaded": True,
        "searches_in_progress": state.runner.admitted,
        "index": jsonable_encoder({k: info[k] for k in PUBLIC_INDEX_INFO if k in info}),
    }
    return JSONResponse(body)


@router.get("/categories", summary="The 13 DeepFashion2 categories (ids and names)")
async def categories() -> list[dict[str, Any]]:
    return [{"id": cid, "name": name} for cid, name in CATEGORY_NAMES.items()]
