"""``digit-ocr serve``: the web page and HTTP API (needs the ``web`` extra)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from ..errors import BadArgumentsError, MissingDependencyError
from .main import Engine, app
from .output import Messages


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: any free port), or a one-line error."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise BadArgumentsError(f"--host {host}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    except OSError as exc:
        sock.close()
        raise BadArgumentsError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", "choose another --port"
        ) from None
    return sock


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="Port (0: any free one).")
    ] = 8000,
    engine: Annotated[Engine, typer.Option("--engine", "-e", help="Default reader.")] = Engine.auto,
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Model file (default: the shipped one).")
    ] = None,  # noqa: UP007
    max_upload_mb: Annotated[
        float,
        typer.Option(
            "--max-upload-mb", envvar="DIGIT_OCR_MAX_UPLOAD_MB", help="Largest upload accepted, in megabytes."
        ),
    ] = 15.0,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds Tesseract may take per image.")] = 10.0,
) -> None:
    """Serve a page to draw or drop digits and see them read, and its HTTP API (/api/read)."""
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError(
            f"digit-ocr serve needs the web extra ({exc.name or 'a package'} is not installed)",
            "pip install 'digit-ocr[web]'",
        ) from None
    from ..web.app import create_app, warm_up

    if max_upload_mb <= 0:
        raise BadArgumentsError("--max-upload-mb must be positive")
    if timeout <= 0:
        raise BadArgumentsError("--timeout must be positive")
    msgs = Messages()
    warm_up(engine.value, model)
    web = create_app(
        engine=engine.value,
        model=model,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        tesseract_timeout=timeout,
    )
    sock = _listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    if host not in ("127.0.0.1", "localhost", "::1"):
        msgs.warn(f"listening on {host}: the page and API are reachable from other machines")
    msgs.info(f"digit-ocr: serving on http://{shown}:{bound_port}/ (Ctrl+C to stop)")
    config = uvicorn.Config(web, log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])
