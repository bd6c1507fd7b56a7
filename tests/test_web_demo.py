"""seg-demo and the browser backends: the server serves only its table, the page segments a real photo as ONNX
Runtime CPU does (ONNX Runtime Web and LiteRT.js), seg-bench gets ort-web / litert-web rows, and a bad
artifact or contract is one message on the page and a failed row, never a hang.

The shipped default model exported at 128x128 (fp32 ONNX and TFLite) and real CCP test photos keep it small.
"""
from __future__ import annotations

import http.client
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from export.contract import contract_path, read_contract, write_contract
from export.preprocess import logits_to_mask, output_to_logits, to_input_tensor

SIZE = (128, 128)  # the default model finds too little of a person at 64x64


def _chromium_missing() -> str | None:
    from web_demo.driver import browser_missing

    return browser_missing()


needs_chromium = pytest.mark.skipif(_chromium_missing() is not None,
                                    reason=f"browser tests need Chromium and web_demo's npm runtimes: {_chromium_missing()}")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """The default model at 64x64: {'onnx': ..., 'tflite': ...}, exported once for this file."""
    from export.api import export_model

    out = tmp_path_factory.mktemp("web")
    from train.default_model import default_encoder

    return {fmt: export_model("default", default_encoder(), fmt, "fp32", out_dir=out, imgsz=SIZE)
            for fmt in ("onnx", "tflite")}


@pytest.fixture(scope="module")
def photo(ccp_dir) -> Path:
    return sorted((ccp_dir / "test" / "images").iterdir())[0]


def _rgb(photo: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(photo).convert("RGB"))


def _ort_cpu_mask(onnx: Path, rgb: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    contract = read_contract(onnx)
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    raw = session.run([contract.output.name], {contract.input.name: to_input_tensor(rgb, contract)})[0]
    return logits_to_mask(output_to_logits(raw, contract), contract.postprocess, size=rgb.shape[:2])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _page_mask(result: dict) -> np.ndarray:
    import base64

    data = np.frombuffer(base64.b64decode(result["mask"]), np.uint8)
    return data.reshape(result["height"], result["width"]).astype(bool)


def _get(server, path: str) -> tuple[int, dict, bytes]:
    """A raw GET (http.client sends the path as written: no client-side '..' folding)."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _damaged(model: Path, tmp_path: Path, *, artifact: bytes | None = None, contract_edit=None) -> Path:
    """A copy of `model` with other bytes (its contract re-sealed to them) or an edited contract."""
    copy = tmp_path / model.name
    shutil.copy(model, copy)
    shutil.copy(contract_path(model), contract_path(copy))
    if artifact is not None:
        copy.write_bytes(artifact)
        write_contract(read_contract(model), copy)  # checksum matches: the runtime itself must refuse it
    if contract_edit is not None:
        data = json.loads(contract_path(copy).read_text())
        contract_edit(data)
        contract_path(copy).write_text(json.dumps(data))
    return copy


# ---------------------------------------------------------------- server (no browser needed)

def test_the_server_serves_its_table_and_nothing_outside(models):
    from web_demo.server import DemoServer, check_model

    server = DemoServer([check_model(models["onnx"])])
    server.start()
    try:
        status, headers, body = _get(server, "/")
        assert status == 200 and b"demo.js" in body
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert "connect-src 'self'" in headers["Content-Security-Policy"]  # the page can send nothing elsewhere
        listing = json.loads(_get(server, "/models.json")[2])
        entry = listing["models"][0]
        assert entry["problem"] is None and entry["format"] == "onnx"
        assert _get(server, entry["artifact"])[2] == models["onnx"].read_bytes()
        assert json.loads(_get(server, entry["contract"])[2])["format"] == "onnx"
        for outside in ("/../pyproject.toml", "/..%2fpyproject.toml", "/%2e%2e/pyproject.toml",
                        "/vendor/ort/../../package.json", f"{entry['artifact']}/../../../pyproject.toml",
                        "/models/0/", "/models/", "/vendor/ort/", "/web_demo/server.py", "/server.py",
                        "/node_modules/onnxruntime-web/package.json", "//etc/passwd", "/etc/passwd"):
            status, _, body = _get(server, outside)
            assert status == 404 and body == b"not found\n", outside
    finally:
        server.shutdown()
        server.server_close()


def test_browser_rows_are_timed_by_the_page_clock(monkeypatch, tmp_path):
    """A fake page whose every call costs 100 ms of host time (WebDriver) and reports its own in-page time: the
    row's figures are the page's, the round trip is on the row apart, the load is timed by the host."""
    import base64

    import bench.backends.browser as browser
    import bench.timing
    from bench.backends import BackendOptions, make_backend
    from bench.images import synthetic_images
    from bench.jobs import Job
    from bench.reference import ReferenceLogits
    from bench.runner import Settings, measure
    from export.contract import ModelContract, Postprocess, Preprocess, Source, TensorSpec

    now = [0.0]
    page_ms = iter(float(ms) for ms in range(1, 100))
    output = base64.b64encode(np.zeros((1, 1, 8, 8), np.float32).tobytes()).decode()

    class FakePage:
        browser_version = "156.0"

        def __init__(self, artifact, query="autoload=0", window=None):
            now[0] += 0.5

        def call(self, script, *args, timeout=None):
            if "segDemo.load" in script:
                return {"threads": 2, "backend": "wasm", "simd": "SIMD128", "threads_possible": True,
                        "cross_origin_isolated": True}
            now[0] += 0.1
            return {"ms": next(page_ms), "output": output}

        def browser_rss_mb(self):
            return 500.0

        def close(self):
            pass

    monkeypatch.setattr(bench.timing, "clock", lambda: now[0])
    monkeypatch.setattr(browser, "Page", FakePage)
    contract = ModelContract("onnx", "fp32", "m.onnx", TensorSpec("input", [1, 3, 8, 8], "NCHW"),
                             TensorSpec("logits", [1, 1, 8, 8], "NCHW"), Preprocess([0.5] * 3, [0.5] * 3),
                             Postprocess(), Source("efficientnet-b0", None, None, False))
    artifact = tmp_path / "m.onnx"
    artifact.write_bytes(b"fake")
    job = Job("ort-web", artifact.name, "efficientnet-b0", "onnx", "fp32", artifact, contract)
    settings = Settings(runs=4, warmup=1, previews=0, parity=False, memory_runs=1)
    row = measure(job, make_backend("ort-web", BackendOptions(threads=2)), synthetic_images(1, (8, 8)), settings,
                  ReferenceLogits(None)).result
    assert row.status == "ok", row.reason
    assert row.init_ms == pytest.approx(500) and row.first_ms == 1  # load by the host, first run by the page
    assert (row.min_ms, row.max_ms, row.p50_ms) == (3, 6, 4.5)  # runs 3..6 after 1 first and 1 warm-up
    assert row.runtime_options["webdriver_round_trip_ms_p50"] == "100.0" and row.threads == 2
    assert row.runtime_options["browser_rss_mb"] == "500" and row.runtime_options["wasm_threads"] == "yes"


def test_seg_demo_refuses_bad_input_in_one_line(tmp_path, capsys):
    from web_demo.cli import main

    assert main(["--model", str(tmp_path / "missing.onnx")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["--model", str(tmp_path / "empty")]) == 2
    (tmp_path / "notes.txt").write_text("x")
    assert main(["--model", str(tmp_path / "notes.txt")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("seg-demo: error: ") for line in lines), lines


# ---------------------------------------------------------------- the page in headless Chromium

@needs_chromium
@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_the_page_segments_a_real_photo_as_ort_cpu_does(fmt, models, photo, tmp_path):
    """The page's own path (file input, its JS pre/post-processing, ORT Web or LiteRT.js) against ONNX Runtime
    CPU on the ONNX export of the same model, at the photo's size."""
    from web_demo.driver import Page

    page = Page(models[fmt], query="threads=2")
    try:
        result = page.segment_photo(photo)
        shot = tmp_path / "page.png"
        assert page.driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        runtime = page.driver.execute_script("return document.getElementById('stat-runtime').textContent")
    finally:
        page.close()
    rgb = _rgb(photo)
    assert (result["height"], result["width"]) == rgb.shape[:2]
    expected = _ort_cpu_mask(models["onnx"], rgb)
    assert expected.mean() > 0.05  # a person is there: the comparison means something
    assert _iou(_page_mask(result), expected) >= 0.99
    assert runtime == {"onnx": "onnxruntime-web 1.30.0", "tflite": "LiteRT.js 2.5.3"}[fmt]


@needs_chromium
def test_seg_bench_gives_browser_rows_with_latency_iou_and_parity(models, ccp_dir, tmp_path):
    from bench.cli import main
    from bench.results import read_json

    out = tmp_path / "bench"
    rc = main(["--model", str(models["onnx"]), "--model", str(models["tflite"]), "--backend", "ort-web,litert-web",
               "--checkpoint", "default", "--data", str(ccp_dir), "--limit", "2", "--runs", "3", "--warmup", "1",
               "--threads", "2", "--no-plots", "--overlays", "0", "--no-progress", "--row-timeout", "300",
               "--out", str(out)])
    rows = {r.backend: r for r in read_json(out / "results.json")}
    assert rc == 0, [(r.backend, r.reason) for r in rows.values()]
    assert set(rows) == {"ort-web", "litert-web"}
    for row in rows.values():
        assert row.ok and row.runs == 3 and 0 < row.p50_ms < 10_000 and row.init_ms > 0
        assert row.iou_split is not None and row.iou_images == 2
        assert row.parity_mask_iou >= 0.99, row.backend  # fp32 in the browser = the PyTorch model
        options = row.runtime_options
        assert options["browser"].startswith("headless Chromium ") and options["wasm_simd"].startswith("SIMD128")
        assert options["num_threads"] == "2" and options["wasm_threads"] == "yes" and row.threads == 2
        assert options["timed"].startswith("in the page") and "chromium" in row.versions
    assert rows["ort-web"].versions["onnxruntime-web"] == "1.30.0"
    assert rows["litert-web"].versions["@litertjs/core"] == "2.5.3"


@needs_chromium
def test_a_bad_artifact_is_one_message_on_the_page_and_a_failed_row(models, tmp_path):
    from bench.backends import make_backend
    from web_demo.driver import Page
    from bench.images import synthetic_images
    from bench.jobs import Job
    from bench.reference import ReferenceLogits
    from bench.runner import Settings, measure
    from train.errors import UserError

    garbage = _damaged(models["onnx"], tmp_path, artifact=b"not an onnx model" * 64)
    page = Page(garbage, query="")
    try:
        with pytest.raises(UserError) as err:
            page.wait_for(("ready",), timeout=60)
        shown = page.driver.execute_script("return document.getElementById('message').textContent")
    finally:
        page.close()
    assert shown == str(err.value) and "\n" not in shown
    assert shown.startswith(f"{garbage.name}: onnxruntime-web cannot run it: ")

    contract = read_contract(garbage)
    job = Job("ort-web", garbage.name, "efficientnet-b0", "onnx", "fp32", garbage, contract)
    row = measure(job, make_backend("ort-web"), synthetic_images(1, SIZE), Settings(runs=2, warmup=0, parity=False),
                  ReferenceLogits(None)).result
    assert row.status == "failed" and row.reason.startswith(f"{garbage.name}: onnxruntime-web cannot run it")


@needs_chromium
@pytest.mark.parametrize("damage", ["schema", "checksum"])
def test_a_bad_contract_is_one_message_on_the_page(damage, models, tmp_path):
    from web_demo.driver import Page
    from train.errors import UserError

    if damage == "schema":
        bad = _damaged(models["tflite"], tmp_path, contract_edit=lambda c: c["input"].update(layout="NWHC"))
        expected = "does not follow contract.schema.json: input.layout"
    else:
        bad = _damaged(models["tflite"], tmp_path, contract_edit=lambda c: c.update(artifact_bytes=1))
        expected = "does not match its contract"
    page = Page(bad, query="")
    try:
        with pytest.raises(UserError, match=expected):
            page.wait_for(("ready",), timeout=30)
        shown = page.driver.execute_script("return document.getElementById('message').textContent")
    finally:
        page.close()
    assert bad.name in shown and expected in shown and "\n" not in shown


@needs_chromium
def test_the_webcam_loop_segments_frames(models):
    """Chromium's fake camera: frames go through the same path, the per-frame time shows, Stop ends it."""
    from web_demo.driver import Page

    page = Page(models["onnx"], query="", flags=("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"))
    try:
        page.wait_for(("ready",), timeout=60)
        page.driver.execute_script("document.getElementById('camera').click()")
        frame = "return document.getElementById('stat-frame').textContent"
        deadline = time.monotonic() + 60
        while page.driver.execute_script(frame) == "-" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert page.driver.execute_script(frame).endswith(" ms")
        assert page.driver.execute_script("return document.getElementById('camera').textContent") == "Stop webcam"
        page.driver.execute_script("document.getElementById('camera').click()")
        assert page.state() != "error"
    finally:
        page.close()
