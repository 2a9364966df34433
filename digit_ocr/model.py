"""The digit model: a logistic regression over a fixed feature map, stored as plain arrays.

A model file is a NumPy ``.npz`` archive holding only numeric arrays and one JSON
string of metadata, read with ``allow_pickle=False``: loading it cannot run code
(unlike a pickle or joblib file) and needs neither scikit-learn nor joblib, which
keeps ``digit-ocr read`` quick to start.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import normalize
from .errors import BadArgumentsError, BadModelError
from .fileio import write_atomic
from .normalize import FEATURE_VERSION

MODEL_FORMAT = 1
DEFAULT_MODEL_NAME = "digits.npz"
#: A model's SHA-256 is recorded next to it in ``sha256sum`` format: ``digits.npz`` -> ``digits.sha256``.
CHECKSUM_SUFFIX = ".sha256"
#: Far above any real model (the shipped one is ~70 kB): larger files and archive members are refused
#: before they are read or decompressed.
MAX_MODEL_BYTES = 64 << 20
_FEATURE_MAPS = ("linear", "poly2", "rff")
_REQUIRED = ("coef", "intercept", "classes", "meta")
#: The arrays a feature map needs beside the weights (random features drawn at training time).
_MAP_ARRAYS: dict[str, tuple[str, ...]] = {"rff": ("rff_weights", "rff_offsets")}


def default_model_path() -> Path:
    """Where the shipped model is: inside the installed package, or ``models/`` of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "models" / DEFAULT_MODEL_NAME, here.parent / "models" / DEFAULT_MODEL_NAME):
        if candidate.is_file():
            return candidate
    return here.parent / "models" / DEFAULT_MODEL_NAME


def _scales(blocks: tuple[str, ...]) -> np.ndarray:
    """Each feature's scale factor: the 8x8 counts (0..16) to 0..1, the other blocks as they are."""
    return np.concatenate(
        [np.full(normalize.BLOCKS[b], 1.0 / 16.0 if b == "counts8" else 1.0, np.float32) for b in blocks]
    )


def feature_map(
    X: np.ndarray,
    kind: str,
    arrays: dict[str, np.ndarray] | None = None,
    blocks: tuple[str, ...] = normalize.CLASSIC_BLOCKS,
) -> np.ndarray:
    """Apply the model's fixed feature map to features made of ``blocks`` (see :mod:`.normalize`).

    The features are first scaled (``z``: the 8x8 counts to 0..1). ``linear``: ``z``. ``poly2``:
    ``z`` and its pairwise products (for the 64 counts alone). ``rff``: random Fourier features
    ``sqrt(2/D) cos(z W + b)``, whose dot products approximate a Gaussian (RBF) kernel; ``W`` (d, D)
    and ``b`` (D,) are drawn at training time and stored in the model (``arrays``: ``rff_weights``,
    ``rff_offsets``).
    """
    d = normalize.width(blocks)
    Z = np.asarray(X, dtype=np.float32).reshape(-1, d) * _scales(blocks)
    if kind == "linear":
        return Z
    if kind == "poly2" and d == 64:
        i, j = np.triu_indices(64)
        return np.hstack([Z, Z[:, i] * Z[:, j]])
    if kind == "rff" and arrays is not None:
        W, b = arrays["rff_weights"], arrays["rff_offsets"]
        # cos(Z W + b) * sqrt(2/D), each step in place in the product's array: the same element
        # by element operations, without two more arrays of n x D.
        F = Z @ W
        F += b
        np.cos(F, out=F)
        F *= np.float32(math.sqrt(2.0 / W.shape[1]))
        return F
    raise BadModelError(f"unknown feature map {kind!r}", "rebuild the model with `digit-ocr train`")


@dataclass
class Model:
    """Weights plus metadata; :meth:`predict_proba` needs NumPy alone."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: The arrays of the feature map (see :func:`feature_map`), empty for ``linear`` and ``poly2``.
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def feature_map(self) -> str:
        return str(self.meta.get("feature_map", "linear"))

    @property
    def blocks(self) -> tuple[str, ...]:
        """The feature blocks the model reads (:data:`digit_ocr.normalize.BLOCKS`)."""
        return tuple(self.meta.get("features", normalize.CLASSIC_BLOCKS))

    @property
    def temperature(self) -> float:
        """Softmax temperature from calibration on held-out data (1.0 when uncalibrated)."""
        return float(self.meta.get("calibration", {}).get("temperature", 1.0))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, classes) for features (n, width of :attr:`blocks`)."""
        F = feature_map(X, self.feature_map, self.arrays, self.blocks)
        logits = (F @ self.coef.T + self.intercept) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model atomically (a temporary file renamed into place), then its checksum file.

        A failed write (unwritable folder, disk full) leaves any previous model untouched and raises
        :class:`BadArgumentsError` with a one-line message.
        """
        path = Path(path)
        meta = dict(self.meta, model_format=MODEL_FORMAT)
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
            classes=self.classes.astype(np.int64),
            meta=np.array(json.dumps(meta, sort_keys=True)),
            **{k: v.astype(np.float32) for k, v in self.arrays.items()},
        )
        write_atomic(path, buf.getvalue(), "model", make_parents=True)
        write_checksum(path)
        return path


# --------------------------------------------------------------------------- checksums


def checksum_path(path: str | os.PathLike[str]) -> Path:
    """Where the checksum of the model at ``path`` is recorded (``digits.npz`` -> ``digits.sha256``)."""
    return Path(path).with_suffix(CHECKSUM_SUFFIX)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_checksum(path: str | os.PathLike[str]) -> Path:
    """Record the SHA-256 of the model file at ``path`` next to it (atomically); return the checksum file.

    :meth:`Model.save` calls it; anything else that writes a model file must call it afterwards.
    """
    path = Path(path)
    target = checksum_path(path)
    try:
        digest = _sha256(path.read_bytes())
    except OSError as exc:
        raise BadArgumentsError(f"cannot read model {path}: {exc.strerror or exc}") from None
    write_atomic(target, f"{digest}  {path.name}\n".encode("ascii"), "checksum")
    return target


def verify_checksum(
    path: str | os.PathLike[str], data: bytes | None = None, *, required: bool = True
) -> None:
    """Check the model file (or its already-read ``data``) against its recorded SHA-256.

    Raises :class:`BadModelError` naming ``digit-ocr train`` when the checksum differs, or when
    it is missing and ``required``.
    """
    path = Path(path)
    target = checksum_path(path)
    fix = _fix(path)
    try:
        recorded = target.read_text(encoding="ascii", errors="replace").split()
    except FileNotFoundError:
        if required:
            raise BadModelError(
                f"model {path} has no recorded checksum ({target.name} is missing)", fix
            ) from None
        return
    except OSError as exc:
        raise BadModelError(f"cannot read checksum {target}: {exc.strerror or exc}", fix) from None
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadModelError(f"cannot read model {path}: {exc.strerror or exc}", fix) from None
    if not recorded or recorded[0].lower() != _sha256(data):
        raise BadModelError(
            f"model {path} does not match its recorded SHA-256 ({target.name}): it was changed or damaged",
            fix,
        )


# --------------------------------------------------------------------------- loading


def _fix(path: Path) -> str:
    if _is_default(path):
        return "rebuild it with `digit-ocr train`, or reinstall digit-ocr"
    return f"rebuild it with `digit-ocr train --output {path}`"


def _is_default(path: Path) -> bool:
    try:
        return path.resolve() == default_model_path().resolve()
    except OSError:
        return False


def load_model(path: str | os.PathLike[str] | None = None) -> Model:
    """Load and check a model file; every failure is a :class:`BadModelError` naming the fix.

    The default (shipped) model must match its recorded checksum; another model is checked
    against one when a checksum file lies next to it. The file is read once, so what is checked
    is what is loaded.
    """
    p = Path(path) if path is not None else default_model_path()
    fix = _fix(p)
    if not p.is_file():
        raise BadModelError(f"model file {p} not found", fix)
    try:
        size = p.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise BadModelError(f"model {p} is {size:,} bytes, far too large for a digit-ocr model", fix)
        data = p.read_bytes()
    except OSError as exc:
        raise BadModelError(f"cannot read model {p}: {exc.strerror or exc}", fix) from None
    verify_checksum(p, data, required=path is None or _is_default(p))
    coef, intercept, classes, meta, arrays = _read_arrays(p, data, fix)
    _check(p, coef, intercept, classes, meta, arrays, fix)
    return Model(
        coef.astype(np.float32),
        intercept.astype(np.float32),
        classes.astype(np.int64),
        meta,
        p,
        {k: v.astype(np.float32) for k, v in arrays.items()},
    )


def _read_arrays(
    p: Path, data: bytes, fix: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any], dict[str, np.ndarray]]:
    """The members of a model archive (the four required ones, then the feature map's arrays);
    no pickles, no member decompressing to more than 64 MiB."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if info.file_size > MAX_MODEL_BYTES:
                    raise BadModelError(f"model {p}: member {info.filename} is oversized", fix)
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            missing = [k for k in _REQUIRED if k not in z.files]
            if missing:
                raise BadModelError(f"model {p} lacks {', '.join(missing)}: not a digit-ocr model", fix)
            coef, intercept, classes, raw_meta = (z[k] for k in _REQUIRED)
            known = sorted({name for names in _MAP_ARRAYS.values() for name in names})
            extra = {k: z[k] for k in known if k in z.files}
    except BadModelError:
        raise
    except (
        OSError,
        ValueError,
        KeyError,
        zipfile.BadZipFile,
        EOFError,
        RuntimeError,
        NotImplementedError,
    ) as exc:
        reason = (
            "it holds pickled objects, which digit-ocr never loads"
            if "pickle" in str(exc)
            else "truncated or not a digit-ocr model"
        )
        raise BadModelError(f"cannot load model {p}: {reason}", fix) from None
    if raw_meta.dtype.kind != "U" or raw_meta.ndim != 0:
        raise BadModelError(f"model {p} has no readable metadata", fix)
    try:
        meta = json.loads(str(raw_meta))
    except ValueError:
        raise BadModelError(f"model {p} has no readable metadata", fix) from None
    if not isinstance(meta, dict):
        raise BadModelError(f"model {p} has no readable metadata", fix)
    return coef, intercept, classes, meta, extra


def _check(
    p: Path,
    coef: np.ndarray,
    intercept: np.ndarray,
    classes: np.ndarray,
    meta: dict[str, Any],
    arrays: dict[str, np.ndarray],
    fix: str,
) -> None:
    """Format version, feature map, dtypes, shapes, classes and finiteness of a model's arrays."""
    if meta.get("model_format") != MODEL_FORMAT or meta.get("feature_version") != FEATURE_VERSION:
        raise BadModelError(
            f"model {p} has format {meta.get('model_format')}/features {meta.get('feature_version')}, "
            f"this digit-ocr needs {MODEL_FORMAT}/{FEATURE_VERSION}",
            fix,
        )
    if meta.get("feature_map") not in _FEATURE_MAPS or (meta.get("feature_map") == "poly2" and meta.get(
        "features", ["counts8"]
    ) != ["counts8"]):
        raise BadModelError(f"model {p} uses an unknown feature map {meta.get('feature_map')!r}", fix)
    blocks = meta.get("features", list(normalize.CLASSIC_BLOCKS))
    if (
        not isinstance(blocks, list)
        or not blocks
        or blocks[0] != "counts8"
        or any(b not in normalize.BLOCKS for b in blocks)
        or len(set(blocks)) != len(blocks)
    ):
        raise BadModelError(f"model {p} names unknown feature blocks {blocks!r}", fix)
    blocks = tuple(blocks)
    if coef.dtype.kind not in "fiu" or intercept.dtype.kind not in "fiu" or classes.dtype.kind not in "iu":
        raise BadModelError(f"model {p} has non-numeric weights or classes", fix)
    if classes.ndim != 1 or not 2 <= len(classes) <= 11 or len(set(classes.tolist())) != len(classes):
        raise BadModelError(
            f"model {p} has bad classes {classes.tolist()[:12]}: expected distinct digits", fix
        )
    # Classes are digits 0..9, and 10 for "not a digit" (see classify.NOT_A_DIGIT).
    if classes.min() < 0 or classes.max() > 10:
        raise BadModelError(f"model {p} has classes outside 0..10: {classes.tolist()}", fix)
    _check_map_arrays(p, meta["feature_map"], arrays, normalize.width(blocks), fix)
    d = normalize.width(blocks)
    width = feature_map(np.zeros((1, d), np.float32), meta["feature_map"], arrays, blocks).shape[1]
    if coef.ndim != 2 or coef.shape != (len(classes), width) or intercept.shape != (len(classes),):
        raise BadModelError(
            f"model {p} has weights of the wrong shape {coef.shape}, expected {(len(classes), width)}", fix
        )
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise BadModelError(f"model {p} has NaN or infinite weights", fix)
    calibration = meta.get("calibration", {})
    temperature = calibration.get("temperature", 1.0) if isinstance(calibration, dict) else None
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise BadModelError(f"model {p} has a bad calibration temperature {temperature!r}", fix)


def _check_map_arrays(p: Path, kind: str, arrays: dict[str, np.ndarray], d: int, fix: str) -> None:
    """The feature map's own arrays: present, numeric, of matching shapes, finite."""
    names = _MAP_ARRAYS.get(kind, ())
    missing = [k for k in names if k not in arrays]
    if missing:
        raise BadModelError(f"model {p} lacks {', '.join(missing)} of its {kind} feature map", fix)
    if kind == "rff":
        W, b = arrays["rff_weights"], arrays["rff_offsets"]
        if W.dtype.kind != "f" or b.dtype.kind != "f":
            raise BadModelError(f"model {p} has non-numeric feature-map arrays", fix)
        if W.ndim != 2 or W.shape[0] != d or not 1 <= W.shape[1] <= 65536 or b.shape != (W.shape[1],):
            raise BadModelError(
                f"model {p} has feature-map arrays of the wrong shape {W.shape}/{b.shape}", fix
            )
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise BadModelError(f"model {p} has NaN or infinite feature-map arrays", fix)
