"""`digit-ocr serve`: the HTTP API through Starlette's TestClient, the CLI command, and the page in
headless Chromium (Debian's ``chromium`` driven by the PyPI ``playwright`` package; no browser download).

Set ``DIGIT_OCR_SCREENSHOT=docs/web.png`` to save the page with a drawn digit read (the README's picture).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from .conftest import ROOT, render, run_cli

IN_CI = os.environ.get("CI") == "true"
CHROMIUM = os.environ.get("DIGIT_OCR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Read correctly by the shipped model, printed and photographed (checked when these tests were written).
PRINTED = "7305"
PHOTO = "4263"
#: Strokes of a "4" in fractions of the drawing area (x, y), one list per stroke.
FOUR = [[(0.55, 0.15), (0.40, 0.62), (0.62, 0.62)], [(0.56, 0.40), (0.56, 0.85)]]
ONE = [[(0.25, 0.15), (0.25, 0.85)]]


def need(*modules: str) -> None:
    """Skip when a module is missing, except in CI, where that is a failure."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    msg = f"not installed: {', '.join(missing)} (pip install '.[web,web-test]')"
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


def png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def photo(text: str, seed: int = 0) -> bytes:
    """A JPEG 'photo' of printed digits: tilted, unevenly lit, grey-blue paper, sensor noise."""
    rng = np.random.default_rng(seed)
    page = render(text, scale=4.0, thickness=9, paper=215, ink=35)
    page = cv2.copyMakeBorder(page, 60, 60, 80, 80, cv2.BORDER_CONSTANT, value=215)
    h, w = page.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[w * 0.03, h * 0.05], [w * 0.97, 0], [w, h], [0, h * 0.96]])
    img = cv2.warpPerspective(page, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=120)
    light = 0.75 + 0.25 * (np.arange(w)[None, :] / w)
    img = np.clip(img * light + rng.normal(0, 6, img.shape), 0, 255)
    bgr = np.dstack([img * 0.9, img * 0.97, img]).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return buf.tobytes()


def drawn(strokes: list[list[tuple[float, float]]], size: tuple[int, int] = (720, 360)) -> np.ndarray:
    """What the page's canvas sends: thick round black strokes on white."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    for s in strokes:
        pts = [(int(x * w), int(y * h)) for x, y in s]
        for a, b in zip(pts[:-1], pts[1:]):
            cv2.line(img, a, b, (0, 0, 0), int(h * 0.065), cv2.LINE_AA)
    return img


def digits_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for line in record["lines"] for d in line["digits"]]


# ---- the HTTP API ---------------------------------------------------------------------------


def make_client(**kwargs: Any) -> Any:
    need(
        "fastapi", "uvicorn", "python_multipart", "httpx2" if importlib.util.find_spec("httpx2") else "httpx"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    from digit_ocr.web.app import create_app

    kwargs.setdefault("engine", "model")
    return TestClient(create_app(**kwargs), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client() -> Any:
    return make_client()


def post_image(client: Any, data: bytes, content_type: str = "image/png", path: str = "/api/read") -> Any:
    return client.post(path, content=data, headers={"content-type": content_type})


def assert_error(r: Any, status: int, exit_code: int, pattern: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "exit_code"}
    assert body["exit_code"] == exit_code
    assert re.search(pattern, body["error"]), body["error"]


def test_raw_image_body_is_read_with_the_cli_schema_features_and_annotation(
    client: Any, tmp_path: Path
) -> None:
    from digit_ocr.web.app import ReadingOut

    image = render(PRINTED)
    r = post_image(client, png(image))
    assert r.status_code == 200, r.text
    rec = r.json()
    ReadingOut.model_validate(rec)
    assert rec["text"] == PRINTED and rec["status"] == "ok" and rec["digit_count"] == len(PRINTED)
    assert (rec["width"], rec["height"]) == (image.shape[1], image.shape[0])
    # The same record as `digit-ocr read --format json`, plus the web's own keys.
    p = tmp_path / "printed.png"
    p.write_bytes(png(image))
    cli = run_cli("read", "--format", "json", "--engine", "model", str(p))
    assert cli.returncode == 0, cli.stderr
    want = json.loads(cli.stdout)
    assert set(rec) == set(want) | {"filename", "annotated_png"}
    for key in ("text", "width", "height", "engine", "digit_count", "mean_confidence", "warnings"):
        assert rec[key] == want[key], key
    for got, exp in zip(digits_of(rec), digits_of(want)):
        assert {k: v for k, v in got.items() if k != "features"} == exp
    # Each digit's 8x8 grid: ink counts 0..16, with ink in it.
    for d in digits_of(rec):
        f = np.array(d["features"])
        assert f.shape == (8, 8) and f.min() >= 0 and f.max() <= 16 and f.sum() > 40
    # The annotated image: the picture at its size (plus room above for the labels), boxes in green.
    ann = cv2.imdecode(np.frombuffer(base64.b64decode(rec["annotated_png"]), np.uint8), cv2.IMREAD_COLOR)
    assert ann.shape[1] == image.shape[1] and ann.shape[0] >= image.shape[0]
    green = (ann[:, :, 1] > 120) & (ann[:, :, 0] < 90) & (ann[:, :, 2] < 90)
    assert green.sum() > 200


def test_features_are_what_the_model_classified() -> None:
    """The grids are the 8x8 counts of the model's own input, whose classification gives the digits
    and confidences read."""
    from digit_ocr import read_image
    from digit_ocr.classify import classify
    from digit_ocr.reader import get_model

    image = render("58")
    c = make_client()
    rec = post_image(c, png(image)).json()
    reading = read_image(image, engine="model")
    assert reading.text == rec["text"] == "58"
    feats = np.stack([d.features for d in reading.digits]).astype(np.float32)
    preds = classify(get_model(None), feats)
    for p, d, api in zip(preds, reading.digits, digits_of(rec)):
        assert p.digit == d.digit == api["digit"] and abs(p.confidence - api["confidence"]) < 1e-3
        assert np.array_equal(np.array(api["features"]), d.features[:64].reshape(8, 8))


def test_multipart_upload_gives_the_file_name(client: Any) -> None:
    data = photo(PHOTO)
    r = client.post("/api/read", files={"file": ("meter photo.jpg", data, "image/jpeg")})
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["text"] == PHOTO and rec["filename"] == "meter photo.jpg" and rec["path"] is None
    # A file part sent as octet-stream (a file picker without a type) is decoded all the same.
    r = client.post(
        "/api/read", files={"image": ("x", data, "application/octet-stream")}, params={"annotate": 0}
    )
    assert r.status_code == 200 and r.json()["text"] == PHOTO and "annotated_png" not in r.json()


def test_drawing_like_the_page_sends_is_read(client: Any) -> None:
    rec = post_image(client, png(drawn(ONE + FOUR))).json()
    assert rec["text"] == "14"
    assert all(d["confidence"] > 0.9 for d in digits_of(rec))


def test_blank_image_reads_no_digits(client: Any) -> None:
    rec = post_image(client, png(np.full((200, 300), 255, np.uint8))).json()
    assert rec["status"] == "no_digits" and rec["text"] == "" and rec["lines"] == []
    assert rec["annotated_png"]


def test_annotated_endpoint_returns_png(client: Any) -> None:
    r = post_image(client, png(render(PRINTED)), path="/api/annotated")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["x-digits"] == PRINTED
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_too_large_upload_is_413() -> None:
    small = make_client(max_upload_bytes=2000)
    big = png(render(PRINTED))
    assert len(big) > 2000
    assert_error(post_image(small, big), 413, 3, r"over the limit of 2,000 bytes")
    r = small.post("/api/read", files={"file": ("a.png", big + bytes(70_000), "image/png")})
    assert_error(r, 413, 3, "over the limit")
    r = small.post("/api/read", files={"file": ("a.png", big, "image/png")})
    assert_error(r, 413, 3, "over the limit")


def test_image_over_the_pixel_limit_is_413(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGIT_OCR_MAX_PIXELS", "10000")
    assert_error(post_image(client, png(render(PRINTED))), 413, 3, r"pixels, over the limit of 10,000")


def test_pixel_limit_found_only_by_decoding_is_413(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ok, pgm = cv2.imencode(".pgm", render(PRINTED))  # a format whose size the header check does not read
    monkeypatch.setenv("DIGIT_OCR_MAX_PIXELS", "10000")
    assert_error(post_image(client, pgm.tobytes(), "image/x-portable-graymap"), 413, 3, "over the limit")


def test_extreme_shapes_are_read_not_500(client: Any) -> None:
    for shape in ((1, 20000), (20000, 1), (1, 1)):
        r = post_image(client, png(np.full(shape, 200, np.uint8)))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "no_digits" and r.json()["annotated_png"]


def test_upload_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGIT_OCR_MAX_UPLOAD_MB", "0.001")
    c = make_client()
    assert c.get("/api/info").json()["max_upload_bytes"] == 1048
    assert_error(post_image(c, png(render(PRINTED))), 413, 3, "over the limit")


def test_wrong_content_type_is_415(client: Any) -> None:
    assert_error(post_image(client, b"1234", "text/plain"), 415, 2, "unsupported content type 'text/plain'")
    assert_error(client.post("/api/read", content=png(render("1"))), 415, 2, "unsupported content type")
    r = client.post("/api/read", files={"file": ("notes.txt", b"1234", "text/plain")})
    assert_error(r, 415, 2, "not an image")


def test_undecodable_image_is_422(client: Any) -> None:
    assert_error(post_image(client, b"this is not a PNG at all"), 422, 3, "not a readable image")
    assert_error(post_image(client, png(render("12"))[:60]), 422, 3, "not a readable image")
    assert_error(post_image(client, b""), 422, 3, "empty")


def test_form_without_a_file_is_400(client: Any) -> None:
    assert_error(client.post("/api/read", data={"name": "x"}, files={}), 415, 2, "unsupported")
    body = b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--XyZ--\r\n'
    r = client.post("/api/read", content=body, headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert_error(r, 400, 2, "no file")
    r = client.post("/api/read", content=body, headers={"content-type": "multipart/form-data"})
    assert_error(r, 400, 2, "boundary")


def test_bad_engine_and_unknown_paths_are_json_errors(client: Any) -> None:
    r = client.post("/api/read?engine=magic", content=png(render("1")), headers={"content-type": "image/png"})
    assert r.status_code == 422  # FastAPI's own validation of the query
    assert_error(client.get("/api/nothing"), 404, 2, "Not Found")


def test_internal_error_is_500_json(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import digit_ocr.web.app as web_app

    def boom(*_: Any, **__: Any) -> dict[str, Any]:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(web_app, "analyze", boom)
    assert_error(post_image(client, png(render("1"))), 500, 70, "internal error: RuntimeError: kaboom")


def test_openapi_describes_the_api(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    read = spec["paths"]["/api/read"]["post"]
    assert {"multipart/form-data", "image/*"} <= set(read["requestBody"]["content"])
    assert {"200", "413", "415", "422", "500"} <= set(read["responses"])
    assert {"ReadingOut", "DigitOut", "ErrorOut"} <= set(spec["components"]["schemas"])
    assert "features" in spec["components"]["schemas"]["DigitOut"]["properties"]
    assert "/api/annotated" in spec["paths"] and "/api/info" in spec["paths"]


def test_page_and_its_files_are_served_with_nothing_from_elsewhere(client: Any) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert '<canvas id="pad"' in page and 'capture="environment"' in page and 'accept="image/*"' in page
    for asset in ("static/app.js", "static/style.css"):
        assert asset in page
        a = client.get("/" + asset)
        assert a.status_code == 200 and "http://" not in a.text and "https://" not in a.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    info = client.get("/api/info").json()
    assert info["engine"] == "model" and info["max_upload_bytes"] == 15 * 1024 * 1024


# ---- the command ------------------------------------------------------------------------------

#: Straight to the loopback server, whatever proxy the environment names.
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SERVE = "import sys; from digit_ocr.cli import main, serve_cmd; main.run(sys.argv[1:])"


def test_serve_without_the_web_extra_exits_4(tmp_path: Path) -> None:
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['fastapi'] = None\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    r = subprocess.run(
        [sys.executable, "-c", SERVE, "serve"], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 4, r.stderr
    assert "pip install 'digit-ocr[web]'" in r.stderr and "fastapi" in r.stderr


def test_serve_runs_the_server_and_refuses_a_busy_port() -> None:
    need("fastapi", "uvicorn", "python_multipart")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-c", SERVE, "serve", "--port", "0", "--engine", "model"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"serving on http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        port = int(m.group(1))
        with NO_PROXY.open(f"http://127.0.0.1:{port}/api/info", timeout=30) as resp:
            assert json.load(resp)["engine"] == "model"
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/read",
            data=png(render(PRINTED)),
            headers={"Content-Type": "image/png"},
        )
        with NO_PROXY.open(req, timeout=60) as resp:
            assert json.load(resp)["text"] == PRINTED
        busy = subprocess.run(
            [sys.executable, "-c", SERVE, "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert busy.returncode == 2 and "cannot listen on 127.0.0.1" in busy.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ---- the page in headless Chromium ------------------------------------------------------------


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread."""
    need("fastapi", "uvicorn", "python_multipart")
    import uvicorn

    from digit_ocr.web.app import create_app, warm_up

    warm_up("model", None)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine="model"), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need("playwright")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        msg = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def draw_strokes(page: Any, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw on the page's canvas with the mouse; points are fractions of its size."""
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=12)
        page.mouse.up()


def test_page_reads_a_digit_drawn_with_the_mouse(browser: Any, live_url: str) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1100, "height": 760})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_url)
    draw_strokes(page, FOUR)
    expect(page.locator("#text")).to_have_text("4", timeout=15_000)
    expect(page.locator("#digits li")).to_have_count(1)
    card = page.locator("#digits li").first
    expect(card.locator(".d")).to_have_text("4")
    expect(card.locator(".conf")).to_have_text(re.compile(r"^\d+%$"))
    expect(card.locator("canvas")).to_be_visible()
    expect(page.locator("#annotated")).to_be_visible()
    assert page.locator("#annotated").get_attribute("src").startswith("data:image/png;base64,")
    expect(page.locator("#status")).to_have_text(re.compile(r"1 digit read in \d+ ms"))
    # The 8x8 grid is drawn: dark cells where the model saw ink.
    cells = page.locator("#digits canvas").first.evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, 8, 8).data.filter((_, i) => i % 4 === 0))"
    )
    assert len(cells) == 64 and min(cells) < 60 and max(cells) == 255
    # A second digit before it: both are read, left to right.
    draw_strokes(page, [[(0.2, 0.15), (0.2, 0.85)]])
    expect(page.locator("#text")).to_have_text("14", timeout=15_000)
    shot = os.environ.get("DIGIT_OCR_SCREENSHOT")
    if shot:
        page.wait_for_timeout(300)
        page.screenshot(path=shot, full_page=True)
    page.locator("#clear").click()
    expect(page.locator("#text")).to_have_text("")
    expect(page.locator("#digits li")).to_have_count(0)
    assert not errors
    page.close()


def test_page_reads_an_uploaded_photo(browser: Any, live_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    p = tmp_path / "meter.jpg"
    p.write_bytes(photo(PHOTO))
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    page.goto(live_url)
    page.locator("#tab-photo").click()
    expect(page.locator("#drop")).to_be_visible()
    page.locator("#file").set_input_files(str(p))
    expect(page.locator("#text")).to_have_text(PHOTO, timeout=20_000)
    expect(page.locator("#digits li")).to_have_count(len(PHOTO))
    expect(page.locator("#digits li canvas")).to_have_count(len(PHOTO))
    expect(page.locator("#annotated")).to_be_visible()
    # Not an image: the server's error is shown.
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not really a png")
    page.locator("#file").set_input_files(str(bad))
    expect(page.locator("#status.error")).to_contain_text("not a readable image", timeout=15_000)
    page.close()


def test_page_on_a_phone_draws_with_a_finger(browser: Any, live_url: str) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = ctx.new_page()
    page.goto(live_url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    box = page.locator("#pad").bounding_box()
    assert box["width"] > 300
    cdp = ctx.new_cdp_session(page)
    for stroke in FOUR:
        pts = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": "touchStart", "touchPoints": [{"x": pts[0][0], "y": pts[0][1]}]},
        )
        for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
            for t in np.linspace(0, 1, 10)[1:]:
                point = {"x": x0 + t * (x1 - x0), "y": y0 + t * (y1 - y0)}
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    expect(page.locator("#text")).to_have_text("4", timeout=15_000)
    # The result is below the drawing area on a narrow screen, and nothing overflows sideways.
    assert page.locator("#text").bounding_box()["y"] > box["y"] + box["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ctx.close()
