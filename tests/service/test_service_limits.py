"""Bad requests and overload: every error is JSON ``{"error": {"code", "message"}}`` with the
right status, and no request reaches a file outside the index."""

from __future__ import annotations

import asyncio
import io
import struct
import threading
import zlib

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from service_fakes import FakeIndex, jpeg_bytes

from fashionvision.service import ServiceSettings, create_app


def make_client(index: FakeIndex, **limits) -> TestClient:
    return TestClient(create_app(index, settings=ServiceSettings(**limits)))


@pytest.fixture
def index(tmp_path):
    return FakeIndex(tmp_path / "gallery")


@pytest.fixture
def client(index):
    with make_client(index) as client:
        yield client


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> dict:
    return {"image": (name, data, content_type)}


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert message and "Traceback" not in message
    return message


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels in a few dozen bytes (no pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


# --- what is uploaded -----------------------------------------------------------------------


def test_text_named_jpg_is_refused_by_content(client, index):
    response = client.post("/search", files=upload(b"just some text\n" * 20, "photo.jpg"))
    assert "JPEG" in assert_error(response, 415, "unsupported_image_type")
    assert index.searches == []


def test_gif_is_not_an_accepted_type(client):
    response = client.post("/search", files=upload(b"GIF89a" + bytes(40), "x.gif", "image/gif"))
    assert_error(response, 415, "unsupported_image_type")


@pytest.mark.parametrize("kept", [0.02, 0.5, 0.95])  # in the header, the scan, near the end
def test_truncated_jpeg(client, index, kept):
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (150, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    response = client.post("/search", files=upload(data[: int(len(data) * kept)]))
    assert "truncated" in assert_error(response, 400, "corrupt_image")
    assert index.searches == []


def test_oversize_upload_is_refused(index):
    with make_client(index, max_upload_bytes=1000) as client:
        response = client.post("/search", files=upload(jpeg_bytes(200, 200)))
    assert "1,000 bytes" in assert_error(response, 413, "upload_too_large")


def test_oversize_upload_is_refused_while_streaming(index):
    # No Content-Length (chunked): the body is read chunk by chunk and reading stops at the limit.
    app = create_app(index, settings=ServiceSettings(max_upload_bytes=100_000))
    boundary = "b0undary"
    sent = []

    async def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        for _ in range(1000):  # 64 MB if it were all read
            sent.append(1)
            yield bytes(64 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    async def scenario() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
            return await client.post("/search", content=body(), headers=headers)

    response = asyncio.run(scenario())
    assert_error(response, 413, "upload_too_large")
    assert len(sent) <= 3


def test_declared_oversize_length_is_refused_before_reading(index):
    with make_client(index, max_upload_bytes=1000) as client:
        response = client.post(
            "/search",
            content=b"x" * 10,
            headers={
                "content-type": "multipart/form-data; boundary=x",
                "content-length": str(10**9),
            },
        )
    assert_error(response, 413, "upload_too_large")


def test_decompression_bomb_is_refused_from_its_header(client, index):
    response = client.post("/search", files=upload(png_header(50_000, 50_000), "bomb.png"))
    assert_error(response, 413, "image_too_large")
    assert index.searches == []


def test_image_above_the_pixel_limit(index):
    with make_client(index, max_pixels=5000) as client:
        response = client.post("/search", files=upload(jpeg_bytes(100, 60)))
        assert "6,000 pixels" in assert_error(response, 413, "image_too_large")
        assert client.post("/search", files=upload(jpeg_bytes(50, 60))).status_code == 200


def test_missing_empty_and_misnamed_fields(client):
    response = client.post("/search", files={"photo": ("a.jpg", jpeg_bytes(), "image/jpeg")})
    assert "'image'" in assert_error(response, 422, "missing_image")
    assert_error(client.post("/search", files=upload(b"")), 422, "empty_image")


def test_body_that_is_not_multipart(client):
    response = client.post("/search", content=jpeg_bytes(), headers={"content-type": "image/jpeg"})
    assert "multipart/form-data" in assert_error(response, 415, "expected_multipart")


def test_cut_off_multipart_body(client):
    body = b'--x\r\nContent-Disposition: form-data; name="image"\r\n\r\n' + jpeg_bytes()
    response = client.post(
        "/search", content=body, headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert_error(response, 400, "bad_multipart")


@pytest.mark.parametrize(
    ("query", "code", "needle"),
    [
        ("top_k=0", "invalid_request", "top_k"),
        ("top_k=101", "invalid_request", "top_k"),
        ("top_k=many", "invalid_request", "top_k"),
        ("score_threshold=1.5", "invalid_request", "score_threshold"),
        ("category=hat", "invalid_category", "short sleeve top"),
        ("category=14", "invalid_category", "1..13"),
        ("category=0", "invalid_category", "1..13"),
    ],
)
def test_bad_query_parameters(client, index, query, code, needle):
    response = client.post(f"/search?{query}", files=upload(jpeg_bytes()))
    assert needle in assert_error(response, 422, code)
    assert index.searches == []


# --- items: ids only, never a path ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/items/20", "/items/20/image", "/items/999999/image"])
def test_unknown_item(client, path):
    assert_error(client.get(path), 404, "item_not_found")


@pytest.mark.parametrize("path", ["/items/-1", "/items/-1/image"])
def test_negative_ids_are_unknown_and_never_looked_up(client, index, path):
    # an index backed by an array would read -1 as its last item
    assert_error(client.get(path), 404, "item_not_found")
    assert index.asked == []


@pytest.mark.parametrize("item_id", ["abc", "1.5", "1e3", "%2e%2e"])
def test_non_integer_ids(client, item_id):
    assert_error(client.get(f"/items/{item_id}/image"), 422, "invalid_request")


@pytest.mark.parametrize(
    "path",
    [
        "/items/..%2F..%2Fetc%2Fpasswd/image",
        "/items/..%2f..%2f..%2fetc%2fpasswd",
        "/items/1/..%2F..%2Fetc%2Fpasswd",
        "/items/%2Fetc%2Fpasswd/image",
        "/static/..%2F..%2F__init__.py",
        "/static/..%2Fapp.py",
    ],
)
def test_traversal_attempts_reach_no_file(client, path):
    response = client.get(path)
    assert response.status_code in (404, 422), response.text
    assert response.json()["error"]["code"] in ("not_found", "invalid_request")
    assert b"root:" not in response.content and b"import" not in response.content


def test_item_whose_file_went_missing(client, index):
    (index.root / "shop_002.jpg").unlink()
    assert_error(client.get("/items/2/image"), 404, "image_missing")


def test_unknown_route_and_wrong_method(client):
    assert_error(client.get("/nowhere"), 404, "not_found")
    assert_error(client.get("/search"), 405, "method_not_allowed")


# --- overload, time limit, failures ---------------------------------------------------------


async def _wait_for(condition, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_full_queue_answers_503_with_retry_after(tmp_path):
    gate = threading.Event()
    index = FakeIndex(tmp_path / "gallery", gate=gate)
    app = create_app(index, settings=ServiceSettings(worker_threads=1, max_queue=1))
    runner = app.state.service.runner

    async def scenario() -> tuple[list[httpx.Response], httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            def post():
                return client.post("/search", files=upload(jpeg_bytes()))

            running = asyncio.create_task(post())
            await _wait_for(index.started.is_set)  # holds the one worker thread
            waiting = asyncio.create_task(post())
            await _wait_for(lambda: runner.admitted == 2)  # waits in the queue of one
            refused = await post()
            gate.set()
            return list(await asyncio.gather(running, waiting)), refused

    try:
        served, refused = asyncio.run(scenario())
    finally:
        gate.set()
    assert_error(refused, 503, "busy")
    assert refused.headers["retry-after"] == "2"
    assert [r.status_code for r in served] == [200, 200]
    assert runner.admitted == 0


def test_timeout_answers_504_and_the_running_job_keeps_its_slot(tmp_path):
    gate = threading.Event()
    index = FakeIndex(tmp_path / "gallery", gate=gate)
    settings = ServiceSettings(worker_threads=1, max_queue=0, timeout_s=0.3)
    try:
        with TestClient(create_app(index, settings=settings)) as client:
            message = assert_error(
                client.post("/search", files=upload(jpeg_bytes())), 504, "timeout"
            )
            assert "0.3 s" in message
            # the timed-out search still runs in the only worker: no room for another one
            assert_error(client.post("/search", files=upload(jpeg_bytes())), 503, "busy")
            gate.set()
            for _ in range(500):
                if client.app.state.service.runner.admitted == 0:
                    break
                threading.Event().wait(0.01)
            assert client.post("/search", files=upload(jpeg_bytes())).status_code == 200
    finally:
        gate.set()


def test_unexpected_failure_is_a_json_500_without_details(tmp_path):
    index = FakeIndex(tmp_path / "gallery", fail=RuntimeError("secret detail /srv/models/x.pt"))
    with TestClient(create_app(index), raise_server_exceptions=False) as client:
        response = client.post("/search", files=upload(jpeg_bytes()))
    assert_error(response, 500, "internal_error")
    assert "secret" not in response.text and "RuntimeError" not in response.text


def test_index_user_error_is_a_422(tmp_path):
    from fashionvision.errors import FashionVisionError

    index = FakeIndex(tmp_path / "gallery", fail=FashionVisionError("bad category for this index"))
    with TestClient(create_app(index)) as client:
        response = client.post("/search", files=upload(jpeg_bytes()))
    assert "bad category" in assert_error(response, 422, "search_failed")
