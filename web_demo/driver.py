"""seg-demo's page in a real browser, driven from Python: Debian's headless Chromium under Selenium, with
/usr/bin/chromedriver given explicitly (Selenium Manager never runs, nothing is downloaded; the browser
resolves no host but this machine). `Page` serves one artifact and opens the page on it; web_demo.screenshot
takes its picture with it, and seg-bench's browser backends (bench/backends/browser.py) time runs through it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from train.errors import UserError

CHROMIUM = Path(os.environ.get("SEG_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("SEG_CHROMEDRIVER", "/usr/bin/chromedriver"))
PAGE_TIMEOUT_S = 60  # the page and its script
LOAD_TIMEOUT_S = 150  # fetching and compiling the model (the page itself gives up at 120 s)
RUN_TIMEOUT_S = 60  # one inference


def browser_missing() -> str | None:
    """None when the page can be driven here, else why not in one line."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for path, package, variable in ((CHROMIUM, "chromium", "SEG_CHROMIUM"),
                                    (CHROMEDRIVER, "chromium-driver", "SEG_CHROMEDRIVER")):
        if not path.is_file():
            return f"{path} not found (apt-get install {package}, or set {variable})"
    from .server import runtimes_missing

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
        from .server import DemoServer, check_model

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
