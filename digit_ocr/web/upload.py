"""Taking an image out of an HTTP request: size cap, content type, multipart, all in memory.

Nothing is written to disk: the body is read into memory up to the cap and the multipart
form is parsed there (Starlette's own form parser would spool large files to temporary files).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..errors import ExitCode
from ..load import _JPEG_MAGIC, image_size, max_pixels

#: Default cap of one upload; ``digit-ocr serve --max-upload-mb`` or ``DIGIT_OCR_MAX_UPLOAD_MB`` change it.
DEFAULT_MAX_UPLOAD_BYTES = 15 * 1024 * 1024
#: Room for the multipart boundaries and headers around the file.
MULTIPART_OVERHEAD = 64 * 1024


class RequestError(Exception):
    """A request the app refuses: HTTP status, one-line message, the CLI exit code it corresponds to."""

    def __init__(self, status: int, message: str, exit_code: int = ExitCode.UNREADABLE_INPUT) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.exit_code = int(exit_code)


@dataclass
class Upload:
    """The image bytes of a request and the file name the client gave, if any."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None


def default_max_upload_bytes() -> int:
    """The cap from ``DIGIT_OCR_MAX_UPLOAD_MB`` (megabytes, may be fractional), else 15 MB."""
    try:
        mb = float(os.environ.get("DIGIT_OCR_MAX_UPLOAD_MB", ""))
    except ValueError:
        return DEFAULT_MAX_UPLOAD_BYTES
    return int(mb * 1024 * 1024) if mb > 0 else DEFAULT_MAX_UPLOAD_BYTES


def too_large(limit: int) -> RequestError:
    return RequestError(413, f"upload is over the limit of {limit:,} bytes")


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header, lower case ('' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_content_type(content_type: str | None) -> str:
    """``'multipart'`` or ``'image'``; anything else is a 415."""
    mt = media_type(content_type)
    if mt == "multipart/form-data":
        return "multipart"
    if mt.startswith("image/"):
        return "image"
    raise RequestError(
        415,
        f"unsupported content type {mt or '(none)'!r}: send an image (image/*) "
        "or a multipart/form-data form with an image file",
        ExitCode.BAD_ARGS,
    )


async def read_body(chunks: AsyncIterator[bytes], content_length: str | None, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to be over ``limit`` bytes."""
    if content_length and content_length.strip().isdigit() and int(content_length) > limit:
        raise too_large(limit)
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            raise too_large(limit)
    return bytes(buf)


def parse_multipart(body: bytes, content_type: str, limit: int) -> Upload:
    """The first file of a multipart/form-data body (its part must be an image or octet-stream)."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise RequestError(400, "multipart/form-data without a boundary", ExitCode.BAD_ARGS)
    parts: list[tuple[dict[bytes, bytes], bytearray]] = []
    field, value = bytearray(), bytearray()

    def on_part_begin() -> None:
        parts.append(({}, bytearray()))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value.extend(data[start:end])

    def on_header_end() -> None:
        parts[-1][0][bytes(field).lower()] = bytes(value)
        field.clear()
        value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].extend(data[start:end])
        if len(parts[-1][1]) > limit:
            raise too_large(limit)

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise RequestError(400, f"malformed multipart/form-data body ({exc})", ExitCode.BAD_ARGS) from None
    for headers, data in parts:
        _, disp = parse_options_header(headers.get(b"content-disposition", b""))
        if b"filename" not in disp:
            continue
        part_type = media_type(headers.get(b"content-type", b"").decode("latin-1"))
        if part_type and not (part_type.startswith("image/") or part_type == "application/octet-stream"):
            raise RequestError(415, f"the uploaded file is {part_type!r}, not an image", ExitCode.BAD_ARGS)
        name = disp[b"filename"].decode("utf-8", "replace")
        return Upload(bytes(data), os.path.basename(name.replace("\\", "/")) or None, part_type or None)
    raise RequestError(
        400, "the form has no file: send the image as a file field (e.g. 'file')", ExitCode.BAD_ARGS
    )


def check_pixels(data: bytes) -> None:
    """413 for an image whose header declares more pixels than the loader would decode."""
    size = image_size(data)
    if size is None:
        return
    w, h = size
    limit = max_pixels()
    # The loader decodes JPEGs of up to 64 times the limit at reduced size (see load.decode).
    if w * h > limit and (data[:3] != _JPEG_MAGIC or w * h > 64 * limit):
        raise RequestError(413, f"image is {w}x{h} pixels, over the limit of {limit:,}")
