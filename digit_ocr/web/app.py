"""The FastAPI app of ``digit-ocr serve``: the page, ``POST /api/read`` and friends."""

from __future__ import annotations

import base64
from enum import Enum
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import DigitOcrError, ExitCode, UnreadableInputError
from ..load import max_pixels
from ..reader import ENGINES, LOW_CONFIDENCE, get_model
from .analyze import analyze
from .upload import (
    MULTIPART_OVERHEAD,
    RequestError,
    Upload,
    check_content_type,
    check_pixels,
    default_max_upload_bytes,
    parse_multipart,
    read_body,
)

STATIC = Path(__file__).resolve().parent / "static"
#: The page loads nothing from elsewhere; the images it shows are data: URLs.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: HTTP status of each exit code that a reading can fail with.
STATUS_OF_EXIT = {
    ExitCode.BAD_ARGS: 400,
    ExitCode.UNREADABLE_INPUT: 422,
    ExitCode.MISSING_DEPENDENCY: 503,
    ExitCode.ENGINE_FAILED: 502,
}


class EngineName(str, Enum):
    auto = "auto"
    model = "model"
    tesseract = "tesseract"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class DigitOut(_Open):
    digit: str = Field(description="The digit read, '0'..'9'.")
    confidence: float = Field(ge=0, le=1)
    box: list[int] = Field(min_length=4, max_length=4, description="x, y, width, height in image pixels.")
    engine: str
    runner_up: str | None = None
    runner_up_confidence: float | None = None
    votes: dict[str, dict[str, Any]] | None = None
    agreed: bool | None = None
    features: list[list[int]] | None = Field(
        description="The 8x8 normalized digit the model saw (ink counts 0..16, row by row)."
    )


class LineOut(_Open):
    text: str
    box: list[int] = Field(min_length=4, max_length=4)
    digits: list[DigitOut]


class ReadingOut(_Open):
    """The record of ``digit-ocr read --format json`` plus ``features`` per digit and the annotated image."""

    path: str | None
    filename: str | None = Field(description="The uploaded file's name, if the client gave one.")
    width: int
    height: int
    engine: str
    text: str = Field(description="The digits, one line of text per line read.")
    digit_count: int
    mean_confidence: float | None
    min_confidence: float | None
    lines: list[LineOut]
    warnings: list[str]
    timing_ms: dict[str, float]
    status: str = Field(description="'ok', or 'no_digits' when nothing was read.")
    annotated_png: str | None = Field(
        default=None, description="Base64 PNG of the image with the digits boxed and labelled."
    )


class ErrorOut(BaseModel):
    error: str
    exit_code: int = Field(description="The exit code `digit-ocr read` gives for the same failure.")


class InfoOut(BaseModel):
    version: str
    engine: str
    engines: list[str]
    max_upload_bytes: int
    max_pixels: int
    low_confidence: float


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request (no file in the form)."},
    413: {"model": ErrorOut, "description": "Upload over the size cap, or image over the pixel limit."},
    415: {"model": ErrorOut, "description": "Not an image content type."},
    422: {"model": ErrorOut, "description": "Not a decodable image."},
    500: {"model": ErrorOut, "description": "Internal error."},
    503: {"model": ErrorOut, "description": "A needed program (Tesseract) is missing."},
}
IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The image: a multipart form with one image file, or the raw image bytes.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def error_response(status: int, message: str, exit_code: int) -> JSONResponse:
    return JSONResponse({"error": message, "exit_code": int(exit_code)}, status_code=status)


def create_app(
    *,
    engine: str = "auto",
    model: str | Path | None = None,
    max_upload_bytes: int | None = None,
    tesseract_timeout: float = 10.0,
    concurrency: int = 2,
) -> FastAPI:
    """The web app; ``engine`` and ``model`` are the defaults of every reading, as in ``digit-ocr read``."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}")
    limit = max_upload_bytes if max_upload_bytes and max_upload_bytes > 0 else default_max_upload_bytes()
    model_ref = str(model) if model is not None else None
    limiter = anyio.CapacityLimiter(max(1, concurrency))
    app = FastAPI(
        title="digit-ocr",
        version=__version__,
        description="Read the digits in photos, scans and drawings. The page at `/` draws or uploads them.",
        docs_url=None,  # the interactive docs pages load scripts from a CDN; /openapi.json stays
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.max_upload_bytes = limit

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.exit_code)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), ExitCode.BAD_ARGS)

    async def _upload(request: Request) -> Upload:
        kind = check_content_type(request.headers.get("content-type"))
        cap = limit + MULTIPART_OVERHEAD if kind == "multipart" else limit
        body = await read_body(request.stream(), request.headers.get("content-length"), cap)
        up = (
            parse_multipart(body, request.headers["content-type"], limit)
            if kind == "multipart"
            else Upload(body, None, request.headers.get("content-type"))
        )
        if not up.data:
            raise RequestError(422, "the image is empty (0 bytes)")
        check_pixels(up.data)
        return up

    async def _read(up: Upload, engine_name: EngineName | None, annotate: bool) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            return analyze(
                up.data,
                engine=engine_name.value if engine_name else engine,
                model=model_ref,
                tesseract_timeout=tesseract_timeout,
                filename=up.filename,
                annotate=annotate,
            )

        try:
            return await anyio.to_thread.run_sync(work, limiter=limiter)
        except DigitOcrError as exc:
            status = STATUS_OF_EXIT.get(exc.exit_code, 500)
            if isinstance(exc, UnreadableInputError) and "over the limit" in exc.message:
                status = 413  # the loader's pixel limit, for formats whose size only decoding tells
            raise RequestError(status, str(exc), exc.exit_code) from None
        except Exception as exc:  # noqa: BLE001 - a JSON 500, never a traceback page
            raise RequestError(
                500, f"internal error: {type(exc).__name__}: {exc}", ExitCode.INTERNAL_ERROR
            ) from None

    engine_query = Query(None, description="Reader to use (default: the server's --engine).")

    @app.post(
        "/api/read",
        response_model=ReadingOut,
        responses=ERRORS,
        openapi_extra=IMAGE_BODY,
        summary="Read the digits of an image",
    )
    async def api_read(
        request: Request,
        engine: EngineName | None = engine_query,
        annotate: bool = Query(True, description="Include the annotated image as base64 PNG."),
    ) -> JSONResponse:
        """Read an uploaded image: the JSON of `digit-ocr read --format json`, each digit's 8x8
        `features` and the annotated image (`annotated_png`)."""
        up = await _upload(request)
        return JSONResponse(await _read(up, engine, annotate))

    @app.post(
        "/api/annotated",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}, "description": "The annotated image."}, **ERRORS},
        openapi_extra=IMAGE_BODY,
        summary="The image with the digits boxed, as PNG",
    )
    async def api_annotated(request: Request, engine: EngineName | None = engine_query) -> Response:
        """Read an uploaded image and return it with every digit boxed and labelled (PNG); the text
        read is in the `X-Digits` header (lines joined by `|`)."""
        up = await _upload(request)
        record = await _read(up, engine, True)
        headers = {"X-Digits": record["text"].replace("\n", "|")}
        return Response(base64.b64decode(record["annotated_png"]), media_type="image/png", headers=headers)

    @app.get("/api/info", response_model=InfoOut, summary="Server settings the page needs")
    async def api_info() -> InfoOut:
        return InfoOut(
            version=__version__,
            engine=engine,
            engines=list(ENGINES),
            max_upload_bytes=limit,
            max_pixels=max_pixels(),
            low_confidence=LOW_CONFIDENCE,
        )

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def warm_up(engine: str, model: str | Path | None) -> None:
    """Load the model now, so that a bad --model fails at start and the first reading is fast."""
    if engine != "tesseract":
        get_model(str(model) if model is not None else None)
