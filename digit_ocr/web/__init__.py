"""The ``digit-ocr serve`` web app: draw or drop digits and see them read.

Needs the ``web`` extra (``pip install 'digit-ocr[web]'``). :func:`create_app` builds the
ASGI app; :mod:`digit_ocr.web.analyze` holds the framework-free work behind ``POST /api/read``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy: importing the package must not need FastAPI (the CLI checks for it first).
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
