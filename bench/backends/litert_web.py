"""LiteRT.js (npm @litertjs/core, wasm backend with XNNPACK: relaxed SIMD, threads when the page is cross-origin
isolated) in headless Chromium, on seg-demo's page; what a timed run covers is in browser.py's docstring."""
from __future__ import annotations

from .browser import BrowserBackend


class LiteRTWeb(BrowserBackend):
    name = "litert-web"
    formats = ("tflite",)
    runtime = "@litertjs/core"
