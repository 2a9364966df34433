// digit-ocr serve: draw or drop digits, POST them to api/read, show what was read.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const pad = $("pad");
  const ctx = pad.getContext("2d");
  const els = {
    status: $("status"), text: $("text"), figure: $("figure"), img: $("annotated"),
    digits: $("digits"), warnings: $("warnings"), engine: $("engine"),
  };
  const info = { max_upload_bytes: 15 * 1024 * 1024, low_confidence: 0.6 };
  const READ_DELAY_MS = 350;

  // ---- state and results -------------------------------------------------------------
  let seq = 0;            // number of the latest request: older answers are dropped
  let inflight = null;    // AbortController of the request in flight

  function setStatus(msg, isError = false) {
    els.status.textContent = msg;
    els.status.classList.toggle("error", isError);
  }

  function clearResult(msg) {
    els.text.textContent = "";
    els.text.classList.remove("empty");
    els.figure.hidden = true;
    els.img.removeAttribute("src");
    els.digits.replaceChildren();
    els.warnings.replaceChildren();
    setStatus(msg);
  }

  function gridCanvas(rows) {
    const c = document.createElement("canvas");
    c.width = 8;
    c.height = 8;
    c.setAttribute("role", "img");
    c.setAttribute("aria-label", "8x8 normalized digit the model saw");
    const g = c.getContext("2d");
    const im = g.createImageData(8, 8);
    rows.flat().forEach((v, i) => {
      const shade = Math.round(255 - (Math.max(0, Math.min(16, v)) * 255) / 16);
      im.data.set([shade, shade, shade, 255], i * 4);
    });
    g.putImageData(im, 0, 0);
    return c;
  }

  function digitCard(d) {
    const li = document.createElement("li");
    const unsure = d.confidence < info.low_confidence;
    li.className = "card" + (unsure ? " unsure" : "");
    const big = document.createElement("span");
    big.className = "d";
    big.textContent = d.digit;
    const conf = document.createElement("span");
    conf.className = "conf";
    conf.textContent = `${Math.round(d.confidence * 100)}%`;
    conf.title = `confidence ${d.confidence.toFixed(3)} (${d.engine})`;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = `${Math.round(d.confidence * 100)}%`;
    bar.append(fill);
    li.append(big, conf, bar);
    if (d.features) li.append(gridCanvas(d.features));
    if (d.runner_up != null && (d.runner_up_confidence || 0) >= 0.05) {
      const alt = document.createElement("span");
      alt.className = "alt";
      alt.textContent = `else ${d.runner_up} (${Math.round((d.runner_up_confidence || 0) * 100)}%)`;
      li.append(alt);
    }
    return li;
  }

  function show(r) {
    const digits = r.lines.flatMap((l) => l.digits);
    els.text.textContent = r.text || "—";
    els.text.classList.toggle("empty", !r.text);
    els.digits.replaceChildren(...digits.map(digitCard));
    els.warnings.replaceChildren(...r.warnings.map((w) => {
      const li = document.createElement("li");
      li.textContent = w;
      return li;
    }));
    if (r.annotated_png) {
      els.img.src = `data:image/png;base64,${r.annotated_png}`;
      els.figure.hidden = false;
    } else {
      els.figure.hidden = true;
    }
    const ms = Math.round(r.timing_ms.total || 0);
    setStatus(digits.length
      ? `${digits.length} digit${digits.length === 1 ? "" : "s"} read in ${ms} ms (${r.engine})`
      : "No digits found.");
  }

  const narrow = window.matchMedia("(max-width: 820px)");

  async function read(body, contentType, reveal = false) {
    const n = ++seq;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    document.body.classList.add("busy");
    setStatus("Reading");
    const q = els.engine.value ? `?engine=${encodeURIComponent(els.engine.value)}` : "";
    const headers = contentType ? { "Content-Type": contentType } : {};
    try {
      const res = await fetch(`api/read${q}`, { method: "POST", body, headers, signal: inflight.signal });
      const data = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
      if (n !== seq) return;
      if (!res.ok) {
        clearResult("");
        setStatus(data.error || `HTTP ${res.status}`, true);
        return;
      }
      show(data);
      // On a phone the result is below the input: bring it into view for a photo (not while drawing).
      if (reveal && narrow.matches) $("figure").closest("section").scrollIntoView({ behavior: "smooth" });
    } catch (err) {
      if (n === seq && err.name !== "AbortError") setStatus(`Could not reach the server: ${err.message}`, true);
    } finally {
      if (n === seq) document.body.classList.remove("busy");
    }
  }

  // ---- drawing -----------------------------------------------------------------------
  const strokes = [];     // each a list of [x, y] in canvas pixels
  let current = null;
  let timer = 0;

  function lineWidth() { return Math.max(8, pad.height * 0.065); }

  function paintBlank() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = lineWidth();
  }

  function dot([x, y]) {
    ctx.beginPath();
    ctx.arc(x, y, ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  function segmentTo(a, b) {
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  }

  function redraw() {
    paintBlank();
    for (const s of strokes) {
      dot(s[0]);
      for (let i = 1; i < s.length; i++) segmentTo(s[i - 1], s[i]);
    }
  }

  function point(e) {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
  }

  function scheduleRead() {
    clearTimeout(timer);
    if (!strokes.length) return;
    timer = setTimeout(() => {
      pad.toBlob((blob) => blob && read(blob, "image/png"), "image/png");
    }, READ_DELAY_MS);
  }

  pad.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 && e.pointerType === "mouse") return;
    e.preventDefault();
    clearTimeout(timer);
    pad.setPointerCapture(e.pointerId);
    current = [point(e)];
    strokes.push(current);
    dot(current[0]);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!current) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) {
      const p = point(ev);
      segmentTo(current[current.length - 1], p);
      current.push(p);
    }
  });
  const endStroke = () => {
    if (!current) return;
    current = null;
    scheduleRead();
  };
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  $("clear").addEventListener("click", () => {
    strokes.length = 0;
    clearTimeout(timer);
    seq++;
    if (inflight) inflight.abort();
    redraw();
    clearResult("Draw a digit to start.");
  });
  $("undo").addEventListener("click", () => {
    strokes.pop();
    redraw();
    if (strokes.length) scheduleRead();
    else clearResult("Draw a digit to start.");
  });

  // ---- photos: file picker, camera, drag and drop ------------------------------------
  function readFile(file) {
    if (!file) return;
    if (file.type && !file.type.startsWith("image/")) {
      setStatus(`${file.name} is not an image (${file.type}).`, true);
      return;
    }
    if (file.size > info.max_upload_bytes) {
      setStatus(`${file.name} is too large (${(file.size / 1048576).toFixed(1)} MB; ` +
        `the limit is ${(info.max_upload_bytes / 1048576).toFixed(0)} MB).`, true);
      return;
    }
    selectTab("photo");
    const form = new FormData();
    form.append("file", file, file.name || "photo");
    read(form, null, true);
  }

  for (const id of ["file", "camera"]) {
    $(id).addEventListener("change", (e) => {
      readFile(e.target.files[0]);
      e.target.value = "";
    });
  }
  const drop = $("drop");
  let depth = 0;
  document.addEventListener("dragenter", (e) => {
    if (![...(e.dataTransfer?.types || [])].includes("Files")) return;
    depth++;
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove("dragging");
  });
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    document.body.classList.remove("dragging");
    readFile(e.dataTransfer?.files?.[0]);
  });
  drop.addEventListener("dragover", () => drop.classList.add("over"));
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", () => drop.classList.remove("over"));
  document.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
    if (item) readFile(item.getAsFile());
  });

  // ---- tabs and start ----------------------------------------------------------------
  function selectTab(name) {
    for (const t of ["draw", "photo"]) {
      $(`tab-${t}`).setAttribute("aria-selected", String(t === name));
      $(`pane-${t}`).hidden = t !== name;
    }
  }
  $("tab-draw").addEventListener("click", () => selectTab("draw"));
  $("tab-photo").addEventListener("click", () => selectTab("photo"));

  redraw();
  fetch("api/info")
    .then((r) => r.json())
    .then((d) => {
      Object.assign(info, d);
      $("version").textContent = `digit-ocr ${d.version}`;
      $("limit").textContent = `Up to ${(d.max_upload_bytes / 1048576).toFixed(0)} MB.`;
      els.engine.options[0].textContent = `server default (${d.engine})`;
    })
    .catch(() => {});
})();
