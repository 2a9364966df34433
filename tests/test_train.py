"""`digit-ocr train` for real: a model that loads, reaches the accuracy target, and reads digits."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_ocr import normalize, train
from digit_ocr.errors import BadArgumentsError
from digit_ocr.model import default_model_path, load_model
from digit_ocr.userdata import load_folder

from .conftest import render, run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A model trained on load_digits alone (the quick source), with its report folder."""
    out = tmp_path_factory.mktemp("train")
    model, report = out / "m.npz", out / "report"
    r = run_cli(
        "train", "--source", "load_digits", "--output", str(model), "--report", str(report), timeout=600
    )
    assert r.returncode == 0, r.stderr
    return model, report, r.stdout


def _heldout_load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The rows of load_digits that `train` holds out (stratified 20%, seed 0)."""
    from sklearn.model_selection import train_test_split

    y = train.load_digits_source().y
    _, te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=0)
    return te, y[te]


def test_train_reports_and_reaches_the_target(trained: tuple[Path, Path, str]) -> None:
    model_path, report, stdout = trained
    assert "held-out accuracy" in stdout and "precision" in stdout and "confusion matrix" in stdout
    for name in ("confusion_matrix.png", "samples.png", "report.txt"):
        img_or_text = report / name
        assert img_or_text.stat().st_size > 1000, name
    assert cv2.imread(str(report / "confusion_matrix.png")) is not None
    model = load_model(model_path)
    acc = model.meta["metrics"]["heldout_accuracy"]
    assert acc >= 0.975
    assert model.meta["training_data"] == {
        "load_digits": {
            "samples": 1797,
            "weight": train.LOAD_DIGITS_WEIGHT,
            "augmented_copies": train.LOAD_DIGITS_AUGMENT,
        }
    }
    assert model.blocks == normalize.DEFAULT_BLOCKS and model.feature_map == "rff"
    assert {"numpy", "scikit-learn", "python"} <= set(model.meta["versions"])
    # Recompute the held-out accuracy from the saved weights: the file holds what was measured.
    te, yte = _heldout_load_digits()
    pred = model.predict_proba(train.load_digits_source().features(model.blocks, te)).argmax(axis=1)
    assert abs(float((model.classes[pred] == yte).mean()) - acc) < 1e-9


def test_the_classic_model_is_one_option_away(tmp_path: Path) -> None:
    """`--features 8x8 --source load_digits`: the seed's model, a plain logistic regression on
    scikit-learn's 8x8 counts, which it applies to load_digits' own rows as they are."""
    model_path, report = tmp_path / "classic.npz", tmp_path / "report"
    r = run_cli(
        "train", "--features", "8x8", "--source", "load_digits", "-o", str(model_path),
        "--report", str(report), timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert (report / "confusion_matrix.png").stat().st_size > 1000
    model = load_model(model_path)
    assert model.blocks == ("counts8",) and model.feature_map == "linear"
    assert model.coef.shape == (10, 64)
    from sklearn.datasets import load_digits

    te, yte = _heldout_load_digits()
    pred = model.classes[model.predict_proba(load_digits().data[te]).argmax(axis=1)]
    acc = float((pred == yte).mean())
    assert acc == pytest.approx(model.meta["metrics"]["heldout_accuracy"]) and acc >= 0.95


def test_read_with_the_trained_model(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    model_path, _, _ = trained
    p = tmp_path / "x.png"
    cv2.imwrite(str(p), render("7"))
    r = run_cli("read", "-f", "json", "-e", "model", "--model", str(model_path), str(p))
    assert r.returncode in (0, 1), r.stderr
    assert json.loads(r.stdout)["path"] == str(p)


def test_shipped_model_matches_its_recorded_metrics() -> None:
    model = load_model(default_model_path())
    meta = model.meta
    assert meta["metrics"]["per_source"]["load_digits"] >= 0.975
    assert set(meta["training_data"]) >= {"load_digits", "mnist", "fonts", "sevenseg"}
    assert "CC BY-SA 3.0" in meta["licenses"]["mnist"]
    assert default_model_path().stat().st_size < 10 * 1024 * 1024


def _write_crop(path: Path, digit: str) -> None:
    img = np.full((60, 44), 255, np.uint8)
    cv2.putText(img, digit, (6, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 0, 4)
    cv2.imwrite(str(path), img)


def test_user_data_folder_and_labels_csv(tmp_path: Path) -> None:
    for d in "0123456789":
        (tmp_path / d).mkdir()
        _write_crop(tmp_path / d / "a.png", d)
    (tmp_path / "3" / "broken.png").write_bytes(b"not an image")
    cv2.imwrite(str(tmp_path / "page.png"), render("4096"))
    cv2.imwrite(str(tmp_path / "wrong.png"), render("12"))
    (tmp_path / "labels.csv").write_text(
        "file,label\npage.png,4096\nwrong.png,123\nmissing.png,5\nx.png,12a\n"
    )
    said: list[str] = []
    C, y = load_folder(tmp_path, said.append)
    assert C.shape == (14, 32, 32) and sorted(y.tolist()) == sorted(list(range(10)) + [4, 0, 9, 6])
    skipped = "\n".join(said)
    for name in ("broken.png", "wrong.png", "missing.png", "x.png"):
        assert name in skipped


def test_user_data_errors(tmp_path: Path) -> None:
    with pytest.raises(BadArgumentsError):
        load_folder(tmp_path / "nope")
    with pytest.raises(BadArgumentsError, match="no usable digits"):
        load_folder(tmp_path, lambda _m: None)


def test_mnist_from_cache_in_its_own_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--dataset mnist` trains from the cached copy (the download is not possible in tests)."""
    rng = np.random.default_rng(0)
    images = np.zeros((40, 28, 28), np.uint8)
    labels = np.arange(40) % 10
    for img, lab in zip(images, labels):
        cv2.putText(img, str(lab), (6, 23), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
        img[rng.random((28, 28)) < 0.01] = 255
    (tmp_path / "mnist.npz").write_bytes(b"")
    np.savez_compressed(tmp_path / "mnist.npz", images=images, labels=labels)
    monkeypatch.setenv("DIGIT_OCR_CACHE", str(tmp_path))
    from digit_ocr.userdata import mnist_canvases

    C, y = mnist_canvases(log=lambda _m: None)
    assert C.shape == (40, 32, 32) and (y == labels).all()
    assert np.array_equal(C[0], normalize.canvas_of(images[0] > 127))


def test_mnist_without_network_fails_clearly(tmp_path: Path) -> None:
    env = {
        "DIGIT_OCR_CACHE": str(tmp_path / "empty"),
        "https_proxy": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    r = run_cli(
        "train", "--source", "load_digits", "--dataset", "mnist", "-o", str(tmp_path / "m.npz"), env=env
    )
    assert r.returncode == 4 and "cannot fetch MNIST" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "m.npz").exists()


def test_unknown_source_is_a_usage_error(tmp_path: Path) -> None:
    r = run_cli("train", "--source", "nope", "-o", str(tmp_path / "m.npz"))
    assert r.returncode == 2 and "unknown --source" in r.stderr


def test_scribble_source_is_deterministic_handwriting() -> None:
    from digit_ocr import synth

    X, y = synth.make_dataset("scribble", 3, seed=5)
    X2, _ = synth.make_dataset("scribble", 3, seed=5)
    assert X.shape == (30, 64) and sorted(set(y.tolist())) == list(range(10))
    assert np.array_equal(X, X2) and X.min() >= 0 and X.max() <= 16
    assert (X.sum(axis=1) > 0).all()


def test_every_handwritten_form_draws_a_digit_sized_stroke() -> None:
    from digit_ocr import handwriting

    rng = np.random.default_rng(3)
    for digit, forms in handwriting.FORMS.items():
        for form in forms:
            for _ in range(5):
                strokes = form(rng)
                pts = np.vstack(strokes)
                assert np.isfinite(pts).all(), form.__name__
                # within a generous margin of the unit box, and spanning most of its height
                assert pts.min() > -0.5 and pts.max() < 1.5, form.__name__
                assert np.ptp(pts[:, 1]) > 0.6, (digit, form.__name__)
        ink = handwriting.render_handwritten_digit(digit, rng)
        assert ink.sum() > 20


def test_spline_passes_through_its_key_points() -> None:
    from digit_ocr.handwriting import spline

    pts = [(0.0, 0.0), (0.5, 0.2), (1.0, 1.0), (0.2, 0.9)]
    curve = spline(np.random.default_rng(0), pts, 0.0, n=8)
    assert len(curve) == 3 * 8 + 1
    assert np.allclose(curve[::8], pts)


def test_a_clinging_mark_keeps_the_digit_and_adds_a_bar() -> None:
    from digit_ocr import synth

    ink = np.ones((40, 20), np.uint8)
    marked = synth.add_clinging_mark(ink, np.random.default_rng(1))
    assert marked.shape[0] > 40 and marked.sum() > ink.sum()


def test_rff_model_round_trip(tmp_path: Path) -> None:
    """An rff model saves its random features and loads them back, checked and bit for bit."""
    from digit_ocr.model import Model
    from digit_ocr.train import rff_arrays

    arrays = rff_arrays(16, 0.1, seed=3)
    rng = np.random.default_rng(0)
    meta = {"feature_version": normalize.FEATURE_VERSION, "feature_map": "rff"}
    m = Model(rng.normal(size=(11, 16)).astype(np.float32), np.zeros(11, np.float32), np.arange(11), meta,
              arrays=arrays)
    back = load_model(m.save(tmp_path / "rff.npz"))
    X = rng.uniform(0, 16, (5, 64)).astype(np.float32)
    assert np.array_equal(back.arrays["rff_weights"], arrays["rff_weights"])
    assert np.allclose(back.predict_proba(X), m.predict_proba(X))


def test_reading_with_the_shipped_model_imports_neither_sklearn_nor_joblib() -> None:
    """The model file is applied with NumPy alone (quick start-up, no pickles)."""
    import subprocess
    import sys

    sample = Path(__file__).resolve().parent.parent / "samples" / "meter_mono.jpg"
    code = (
        "import sys\n"
        "from digit_ocr import read_image\n"
        f"r = read_image({str(sample)!r}, engine='model')\n"
        "assert r.digits, 'nothing read'\n"
        "print(sorted(m for m in ('sklearn', 'joblib', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
