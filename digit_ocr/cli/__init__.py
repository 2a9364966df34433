"""Command-line interface: parses options, calls the core, prints results (stdout) and messages (stderr)."""

import os

# One BLAS thread: the model needs a single small matrix product per image, and starting
# OpenBLAS's thread pool costs more than that at every `digit-ocr read` (batch parallelism is
# by processes). Set OPENBLAS_NUM_THREADS yourself to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
