"""seg-demo's local server: the page, the runtime files it needs and the chosen artifacts, nothing else.

Every URL is looked up in one fixed table built at start (no directory listing, no path translation, so no
`../` can reach a file outside it). Every response carries the cross-origin isolation headers that wasm
threads need (SharedArrayBuffer), and a Content-Security-Policy whose `connect-src 'self'` keeps the page
from sending anything (an image included) to any other host.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from export.contract import contract_path, read_contract
from export.integrity import verify_artifact
from train.errors import UserError

PAGE_DIR = Path(__file__).resolve().parent
NODE_MODULES = PAGE_DIR / "node_modules"
FORMATS = {".onnx": "onnx", ".tflite": "tflite"}
# the page's own ES modules, each served at /NAME (demo.js imports the others)
PAGE_SCRIPTS = ("demo.js", "contract.js", "wasm_features.js", "ort_web.js", "litert_web.js")

# URL -> file below node_modules: only what the page imports (the wasm-only and WebGPU builds of ORT Web,
# LiteRT.js and the wasm builds it picks from by the browser's features)
RUNTIME_FILES = {
    **{f"/vendor/ort/{name}": f"onnxruntime-web/dist/{name}" for name in (
        "ort.wasm.min.mjs", "ort.webgpu.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
        "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")},
    "/vendor/litert/index.js": "@litertjs/core/dist/index.js",
    "/vendor/litert/wasm-utils.js": "@litertjs/wasm-utils/dist/index.js",
    **{f"/vendor/litert/wasm/litert_wasm_{kind}internal.{ext}": f"@litertjs/core/wasm/litert_wasm_{kind}internal.{ext}"
       for kind in ("", "compat_", "threaded_", "jspi_") for ext in ("js", "wasm")},
}
RUNTIME_PACKAGES = ("onnxruntime-web", "@litertjs/core")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".mjs": "text/javascript; charset=utf-8", ".wasm": "application/wasm", ".json": "application/json",
         ".onnx": "application/octet-stream", ".tflite": "application/octet-stream"}


@dataclass
class ServedModel:
    artifact: Path
    problem: str | None = None  # why the page must refuse it (contract off the schema, checksum): one line naming it

    @property
    def format(self) -> str:
        return FORMATS[self.artifact.suffix.lower()]


def check_model(artifact: Path) -> ServedModel:
    """The artifact with its contract checked as everywhere (schema, format, checksum); a problem is kept, not
    raised, so that the page can say it."""
    try:
        contract = read_contract(artifact)
        if contract.format != FORMATS.get(artifact.suffix.lower()):
            raise UserError(f"{artifact.name}: its contract is for a {contract.format} artifact")
        verify_artifact(artifact, contract)
    except UserError as err:
        return ServedModel(artifact, str(err))
    return ServedModel(artifact)


def runtime_versions() -> dict[str, str]:
    """The installed npm packages' versions (package.json pins them; `npm ci` installs them)."""
    versions = {}
    for package in RUNTIME_PACKAGES:
        try:
            versions[package] = json.loads((NODE_MODULES / package / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            pass
    return versions


def runtimes_missing() -> str | None:
    missing = [url for url, rel in RUNTIME_FILES.items() if not (NODE_MODULES / rel).is_file()]
    if missing:
        return (f"the browser runtimes are not installed ({len(missing)} files missing below {NODE_MODULES}): "
                "run `npm ci` in web_demo/ (bash .ci/install does)")
    return None


def _inline_script_hashes(html: str) -> str:
    """CSP sources for the page's inline scripts (its import map), so that no other inline script runs."""
    bodies = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, flags=re.S)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies)


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, models: list[ServedModel], host: str = "127.0.0.1", port: int = 0, quiet: bool = True):
        self.models, self.quiet = models, quiet
        self.routes: dict[str, Path | tuple[bytes, str]] = {f"/{name}": PAGE_DIR / name for name in PAGE_SCRIPTS}
        self.routes.update({url: NODE_MODULES / rel for url, rel in RUNTIME_FILES.items()})
        page = (PAGE_DIR / "index.html").read_text()
        self.routes["/"] = self.routes["/index.html"] = (page.encode(), TYPES[".html"])
        listing = []
        for index, model in enumerate(models):
            base = f"/models/{index}/{model.artifact.name}"
            self.routes[base] = model.artifact
            self.routes[base + ".json"] = contract_path(model.artifact)
            listing.append({"name": model.artifact.name, "format": model.format, "artifact": base,
                            "contract": base + ".json", "problem": model.problem})
        self.routes["/models.json"] = (json.dumps({"models": listing, "runtimes": runtime_versions()}).encode(),
                                       TYPES[".json"])
        self.csp = ("default-src 'self'; connect-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                    f"script-src 'self' 'wasm-unsafe-eval' {_inline_script_hashes(page)}; worker-src 'self' blob:; "
                    "style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'")
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"

    def start(self) -> threading.Thread:
        """Serve from a background thread (the bench backends and the tests); `shutdown()` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="seg-demo server", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: DemoServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        target = self.server.routes.get(urlsplit(self.path).path)
        if target is None or (isinstance(target, Path) and not target.is_file()):
            return self._send(404, b"not found\n", "text/plain; charset=utf-8", body)
        if isinstance(target, tuple):
            return self._send(200, *target, body)
        kind = TYPES.get(target.suffix.lower(), "application/octet-stream")
        with target.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            self._headers(200, kind, size)
            if body:
                shutil.copyfileobj(fh, self.wfile)

    def _send(self, status: int, data: bytes, kind: str, body: bool) -> None:
        self._headers(status, kind, len(data))
        if body:
            self.wfile.write(data)

    def _headers(self, status: int, kind: str, size: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "no-store")  # a re-exported model must never come from a cache
        # cross-origin isolation: SharedArrayBuffer, hence wasm threads
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Content-Security-Policy", self.server.csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if not self.server.quiet:
            super().log_message(format, *args)
