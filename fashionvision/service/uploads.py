"""Read one file field of a multipart upload while it streams in, never beyond a size limit.

FastAPI's ``UploadFile`` spools the whole body before the endpoint runs; here the body is parsed
chunk by chunk (python-multipart's streaming parser) and the request is answered 413 as soon as
the field, or the body around it, passes the limit: memory stays bounded by the limit whatever
the client sends.  A ``Content-Length`` above the limit is refused before reading anything.
"""

from __future__ import annotations

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from fashionvision.service.errors import ApiError

# Room for the multipart envelope (boundaries, part headers) and small extra fields.
ENVELOPE_BYTES = 64 * 1024


class _FieldCollector:
    """python-multipart callbacks keeping the bytes of the first part named `field`."""

    def __init__(self, field: str, max_bytes: int):
        self.field = field.encode()
        self.max_bytes = max_bytes
        self.data = bytearray()
        self.found = False
        self.complete = False
        self.too_large = False
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._collecting = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._disposition = b""

    def _header_end(self) -> None:
        if bytes(self._header_name).strip().lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._disposition)
        self._collecting = not self.found and params.get(b"name") == self.field
        self.found = self.found or self._collecting

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._collecting or self.too_large:
            return
        if len(self.data) + (end - start) > self.max_bytes:
            self.too_large = True  # stop keeping bytes; the reader answers 413
            return
        self.data.extend(data[start:end])

    def _part_end(self) -> None:
        if self._collecting:
            self.complete = True
            self._collecting = False


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413, "upload_too_large", f"the upload is larger than the limit of {_size(max_bytes)}"
    )


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _boundary(request: Request, field: str) -> bytes:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise ApiError(
            415,
            "expected_multipart",
            f"send the photo as multipart/form-data in a field named '{field}'",
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "bad_multipart", "multipart/form-data without a boundary")
    return boundary


def _declared_length(request: Request) -> int | None:
    try:
        return int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None


async def read_file_field(request: Request, field: str, max_bytes: int) -> bytes:
    """The bytes of the multipart field `field` (its first occurrence), at most `max_bytes`.

    ApiError: 415 when the body is not multipart/form-data, 413 past the limit, 400 for a
    malformed or cut-off body, 422 when the field is missing or empty.
    """
    boundary = _boundary(request, field)
    body_limit = max_bytes + ENVELOPE_BYTES
    declared = _declared_length(request)
    if declared is not None and declared > body_limit:
        raise _too_large(max_bytes)
    collector = _FieldCollector(field, max_bytes)
    parser = MultipartParser(boundary, collector.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise _too_large(max_bytes)
            parser.write(chunk)
            if collector.too_large:
                raise _too_large(max_bytes)
        parser.finalize()
    except MultipartParseError as exc:
        raise ApiError(400, "bad_multipart", f"malformed multipart body ({exc})") from None
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "the upload was interrupted") from None
    if not collector.found:
        raise ApiError(422, "missing_image", f"no '{field}' field in the upload")
    if not collector.complete:
        raise ApiError(400, "bad_multipart", f"the '{field}' field is cut off")
    if not collector.data:
        raise ApiError(422, "empty_image", f"the '{field}' field is empty")
    return bytes(collector.data)
