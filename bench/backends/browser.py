"""What the browser backends (ort-web, litert-web) share: seg-demo's own page (web_demo/) in Debian's headless
Chromium, driven from Python by Selenium with /usr/bin/chromedriver given explicitly (Selenium Manager never
runs, nothing is downloaded; the browser resolves no host but this machine).

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
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from export.contract import ModelContract
from train.errors import UserError

from .base import Backend

CHROMIUM = Path(os.environ.get("SEG_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("SEG_CHROMEDRIVER", "/usr/bin/chromedriver"))
PAGE_TIMEOUT_S = 60  # the page and its script
LOAD_TIMEOUT_S = 150  # fetching and compiling the model (the page itself gives up at 120 s)
RUN_TIMEOUT_S = 60  # one inference


def browser_missing() -> str | None:
    """None when the browser backends can run here, else why not in one line."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for path, package, variable in ((CHROMIUM, "chromium", "SEG_CHROMIUM"),
                                    (CHROMEDRIVER, "chromium-driver", "SEG_CHROMEDRIVER")):
        if not path.is_file():
            return f"{path} not found (apt-get install {package}, or set {variable})"
    from web_demo.server import runtimes_missing

    return runtimes_missing()


def start_chromium(window: tuple[int, int] = (1280, 900), flags: tuple[str, ...] = ()):
    """Headless Chromium under chromedriver, both Debian's, with a throwaway profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="seg-chromium-")
    for flag in ("--headless=new", "--disable-dev-shm-usage", f"--window-size={window[0]},{window[1]}",
                 f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
                 "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--mute-audio", "--remote-debugging-pipe",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", *flags):  # this machine only: no CDN
        options.add_argument(flag)
    if os.geteuid() == 0:  # Chromium refuses to run as root inside its sandbox (CI containers)
        options.add_argument("--no-sandbox")
    # the driver path given: Selenium Manager never runs; the driver dies with this process (a row timed out and
    # killed), and the browser with the driver (its DevTools pipe closes): nothing is left running
    service = Service(executable_path=str(CHROMEDRIVER), log_output=subprocess.DEVNULL,
                      popen_kw={"preexec_fn": _die_with_parent()})
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except Exception as err:
        shutil.rmtree(profile, ignore_errors=True)
        raise UserError(f"headless Chromium did not start: {str(err).strip().splitlines()[0]}") from None
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    driver.profile_dir = profile
    return driver


def _die_with_parent():
    """A preexec_fn for the driver (Linux): SIGKILL when the process that started it dies. prctl is looked up
    here, before the fork, so that the child only calls it."""
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    kill = int(signal.SIGKILL)
    return lambda: prctl(1, kill)  # PR_SET_PDEATHSIG


class Page:
    """seg-demo's server for one artifact, and headless Chromium on its page; `close()` ends both."""

    def __init__(self, artifact: Path, query: str = "autoload=0", window: tuple[int, int] = (1280, 900),
                 flags: tuple[str, ...] = ()):
        from web_demo.server import DemoServer, check_model

        self.server = DemoServer([check_model(Path(artifact))])
        self.server.start()
        self.driver = None
        try:
            self.driver = start_chromium(window, flags)
            self.driver.get(f"{self.server.url}?{query}")
            self.call("return segDemo.ready.then(() => null)", timeout=PAGE_TIMEOUT_S)  # errors stay on the page
        except BaseException:
            self.close()
            raise

    def call(self, script: str, *args: Any, timeout: float = RUN_TIMEOUT_S) -> Any:
        """Run `script` in the page (a returned promise is awaited); the page's one-line error becomes a UserError."""
        from selenium.common.exceptions import TimeoutException, WebDriverException

        self.driver.set_script_timeout(timeout)
        try:
            result = self.driver.execute_script(script, *args)
        except TimeoutException:
            raise UserError(f"the page did not answer within {timeout:g} s") from None
        except WebDriverException as err:
            raise UserError(f"the page failed: {(err.msg or str(err)).strip().splitlines()[0]}") from None
        if isinstance(result, dict) and result.get("error"):
            raise UserError(result["error"])
        return result

    def state(self) -> str:
        return self.driver.execute_script("return document.body.dataset.state")

    def wait_for(self, states: tuple[str, ...], timeout: float = LOAD_TIMEOUT_S) -> str:
        """Wait until the page reaches one of `states` or 'error' (then raise its message); bounded."""
        deadline = time.monotonic() + timeout
        while (state := self.state()) not in (*states, "error"):
            if time.monotonic() > deadline:
                raise UserError(f"the page stayed '{state}' for {timeout:g} s")
            time.sleep(0.1)
        if state == "error":
            raise UserError(self.driver.execute_script("return segDemo.error"))
        return state

    def segment_photo(self, photo: Path, timeout: float = RUN_TIMEOUT_S) -> dict:
        """Choose `photo` in the page's file input, as a user does; the page's result (mask as base64 0/1 bytes)."""
        from selenium.webdriver.common.by import By

        self.wait_for(("ready", "done"))
        self.driver.execute_script("document.body.dataset.state = 'choosing'")
        self.driver.find_element(By.ID, "file").send_keys(str(Path(photo).resolve()))
        self.wait_for(("done",), timeout)
        return self.driver.execute_script("return segDemo.last")

    @property
    def browser_version(self) -> str:
        return self.driver.capabilities.get("browserVersion", "?")

    def browser_rss_mb(self) -> float | None:
        """Resident memory of chromedriver's browser processes now (MB)."""
        try:
            import psutil

            root = psutil.Process(self.driver.service.process.pid)
            return sum(p.memory_info().rss for p in root.children(recursive=True)) / 2**20
        except Exception:  # psutil missing or a process gone: the row says nothing rather than a wrong figure
            return None

    def close(self) -> None:
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:
                pass
            shutil.rmtree(getattr(self.driver, "profile_dir", ""), ignore_errors=True)
            self.driver = None
        self.server.shutdown()
        self.server.server_close()


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
