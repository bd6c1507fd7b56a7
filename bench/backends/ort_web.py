"""ONNX Runtime Web (npm onnxruntime-web, wasm backend: SIMD, threads when the page is cross-origin isolated) in
headless Chromium, on seg-demo's page; what a timed run covers is in browser.py's docstring."""
from __future__ import annotations

from .browser import BrowserBackend


class OrtWeb(BrowserBackend):
    name = "ort-web"
    formats = ("onnx",)
    runtime = "onnxruntime-web"
