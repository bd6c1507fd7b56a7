"""What the browser backends (ort-web, litert-web) share: seg-demo's own page (web_demo/) in headless Chromium,
driven by web_demo/driver.py (Selenium, Debian's Chromium and chromedriver; nothing is downloaded, the browser
resolves no host but this machine).

What a timed run covers. `run(x)` goes host -> browser -> host: the input is sent as base64 through WebDriver,
the page runs it and sends the output back, and IoU and parity come from that output. WebDriver's transport
(base64 and JSON through chromedriver, several ms for a 256x256 input) is a test harness's cost, not the
runtime's, so the row's latency is timed by the page's clock (`performance.now()`, `own_clock_ms`) around what a
web app pays per frame: the input typed array into the runtime's tensor (into the wasm heap), the run, and
the output copied back into an array the page owns (ORT Web's `session.run` with its feed and fetch;
LiteRT.js's `new Tensor`, `run`, `toTypedArray`). Base64 on either side is outside it. The harness's full
round trip is kept on the row (`runtime_options.webdriver_round_trip_ms_p50`); `init_ms` is the host's clock
over loading the page, fetching the artifact and compiling it. `peak_rss_mb` is the Python driver's: the
browser's own RSS after the runs is `runtime_options.browser_rss_mb`.
"""
from __future__ import annotations

import base64
from pathlib import Path
from typing import ClassVar

import numpy as np

from export.contract import ModelContract
from web_demo.driver import LOAD_TIMEOUT_S, Page, browser_missing

from .base import Backend


class BrowserBackend(Backend):
    """One artifact on seg-demo's page, on the wasm backend with `--threads` threads (see the module's docstring)."""

    runtime: ClassVar[str]  # the npm package that runs it

    def available(self) -> str | None:
        return browser_missing()

    def load(self, artifact: Path, contract: ModelContract, precision: str = "fp32") -> None:
        self.contract, self.page, self.page_ms, self.round_trips = contract, None, None, []
        self.page = Page(artifact)
        self.info = self.page.call("return segDemo.load(arguments[0])",
                                   {"model": 0, "backend": "wasm", "threads": self.options.cpu_threads},
                                   timeout=LOAD_TIMEOUT_S)
        self.threads = self.info["threads"]

    def prepare(self, x: np.ndarray) -> str:
        return base64.b64encode(np.ascontiguousarray(x, dtype=self.contract.input.dtype).tobytes()).decode()

    def infer(self, staged: str) -> str:
        from .. import timing  # its clock, looked up now (the timing tests replace it)

        start = timing.clock()
        reply = self.page.call("return segDemo.runBase64(arguments[0])", staged)
        self.round_trips.append((timing.clock() - start) * 1000)
        self.page_ms = float(reply["ms"])
        return reply["output"]

    def fetch(self, output: str) -> np.ndarray:
        spec = self.contract.output
        return np.frombuffer(base64.b64decode(output), dtype=spec.dtype).reshape(spec.shape).copy()

    def own_clock_ms(self) -> float | None:
        return self.page_ms

    def row_settings(self) -> dict:
        info = self.info
        threads = int(info["threads"] or 1)
        options = {
            "browser": f"headless Chromium {self.page.browser_version}", "backend": info["backend"],
            "wasm_simd": info["simd"],
            "wasm_threads": "yes" if threads > 1 else
                            ("no (1 thread asked)" if info["threads_possible"] else "no (page not cross-origin isolated)"),
            "num_threads": str(threads), "cross_origin_isolated": str(info["cross_origin_isolated"]).lower(),
            "timed": "in the page: input array -> runtime tensor -> run -> output array (WebDriver transport outside)",
        }
        if self.round_trips:
            options["webdriver_round_trip_ms_p50"] = f"{np.median(self.round_trips):.1f}"
        if (rss := self.page.browser_rss_mb()) is not None:
            options["browser_rss_mb"] = f"{rss:.0f}"
        return {"runtime_options": options}

    def versions(self) -> dict[str, str]:
        import selenium

        from web_demo.server import runtime_versions

        return {self.runtime: runtime_versions().get(self.runtime, "?"), "chromium": self.page.browser_version,
                "selenium": selenium.__version__}

    def close(self) -> None:
        page = getattr(self, "page", None)
        if page is not None:
            page.close()
        self.page = None
