"""Fixtures for the dashboard's browser tests.

* ``daemon``: a real storeplatformd (simulated cluster, fast delays, rate limits lifted)
  serving the dashboard from this repository, started once per session.
* ``crash_daemon``: a second one with ``--sim-fault crashloop`` (the fault hits the
  first attempt of each store only, so a retry succeeds); started only when a test asks.
* ``slow_daemon``: a daemon with a 2 s install and pods ready 2 s later, for the
  provisioning steps; started only when a test asks.
* ``behind_daemon``: a third one with ``--event-buffer 1 --watch-replay-limit 3``, so the
  dashboard's event stream falls behind and resumes in several steps; started only when
  a test asks.
* ``browser``: a fresh headless Chromium (chromium-driver) per test, 1280x900.

When a test fails, every tab of the page is screenshotted into ``artifacts/`` with the
page source, the browser console and the daemons' logs (see ``_save_artifacts``).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

TESTS_DIR = Path(__file__).resolve().parent
DASHBOARD_DIR = TESTS_DIR.parent
REPO = DASHBOARD_DIR.parent.parent
ARTIFACTS = TESTS_DIR / "artifacts"
DAEMON = Path(os.environ.get("STOREPLATFORM_DAEMON", REPO / ".build" / "debug" / "storeplatformd"))
CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
TABS = ("stores", "activity", "metrics")


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Daemon:
    """One storeplatformd process with its own temp dir, socket, data dir and port."""

    def __init__(self, label, extra_args=()):
        self.label = label
        self.dir = Path(tempfile.mkdtemp(prefix=f"dashboard-{label}-"))
        # Port 0: the daemon binds a free port itself and logs it, so parallel runs never
        # race for one; the URL is known once the log says where the gateway listens.
        self.port = None
        self.url = None
        self.log_path = self.dir / "daemon.log"
        args = [
            str(DAEMON),
            "--socket", str(self.dir / "d.sock"),
            "--tcp", "off",
            "--http", "127.0.0.1:0",
            "--data-dir", str(self.dir / "data"),
            "--dashboard-dir", str(DASHBOARD_DIR),
            "--sim-install-delay", "0.3",
            "--sim-ready-delay", "1",
            "--readiness-poll-ms", "50",
            "--requests-per-minute", "100000",
            "--creates-per-minute", "100000",
            *extra_args,
        ]
        self.args = args
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_healthy(30)

    def restart(self):
        """Stops the daemon (SIGTERM: its event streams end) and starts it again on the same
        port and data, so a page's connection drops and the page comes back to the same URL."""
        self.stop()
        args = [f"127.0.0.1:{self.port}" if a == "127.0.0.1:0" else a for a in self.args]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_healthy(30)

    def _wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.label} daemon exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.url is None:
                match = re.search(r"http=127\.0\.0\.1:(\d+)", self.log_path.read_text(errors="replace"))
                if match:
                    self.port = int(match.group(1))
                    self.url = f"http://127.0.0.1:{self.port}"
                else:
                    time.sleep(0.05)
                    continue
            try:
                if self.api("GET", "/api/health").get("status") == "SERVING":
                    return
            except (OSError, ApiError) as error:
                last = error
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.label} daemon not healthy after {timeout} s ({last}):\n{self.log_tail()}")

    def api(self, method, path, body=None):
        """Calls the REST API; returns the decoded JSON, raises ApiError on a non-2xx answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, error.read().decode()) from None
        return json.loads(text) if text else {}

    def store_by_name(self, name):
        for store in self.api("GET", "/api/stores?page_size=500").get("stores", []):
            if store["name"] == name:
                return store
        return None

    def log_tail(self, lines=60):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


_daemons = []


def _start(label, extra_args=()):
    if not DAEMON.exists():
        pytest.fail(f"daemon binary {DAEMON} not found (build it, or set STOREPLATFORM_DAEMON)")
    daemon = Daemon(label, extra_args)
    _daemons.append(daemon)
    return daemon


def _finish(daemon):
    daemon.stop()
    _daemons.remove(daemon)
    shutil.rmtree(daemon.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def daemon():
    d = _start("main")
    yield d
    _finish(d)


@pytest.fixture(scope="session")
def crash_daemon():
    d = _start("crashloop", ["--sim-fault", "crashloop"])
    yield d
    _finish(d)


@pytest.fixture(scope="session")
def slow_daemon():
    """A daemon whose simulated install takes 2 s and whose pods are ready 2 s later, so
    the provisioning steps can be watched. Started only when a test asks."""
    d = _start("slow", ["--sim-install-delay", "2", "--sim-ready-delay", "2"])
    yield d
    _finish(d)


@pytest.fixture(scope="session")
def behind_daemon():
    """A daemon whose watchers fall behind easily: an event-bus buffer of one event per
    watcher, and at most three transitions replayed per resume (the rest is another
    `event: behind` away). Started only when a test asks."""
    d = _start("behind", ["--event-buffer", "1", "--watch-replay-limit", "3", "--max-live-stores", "1000"])
    yield d
    _finish(d)


@pytest.fixture
def browser(request):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1280, 900)
    yield driver
    try:
        failed = any(getattr(request.node, "rep_" + phase, None) is not None
                     and getattr(request.node, "rep_" + phase).failed for phase in ("setup", "call"))
        if failed:
            _save_artifacts(driver, request.node.name)
    finally:
        driver.quit()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def _save_artifacts(driver, test_name):
    """Screenshot each tab (full page), plus page source, console log and daemon logs."""
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
    saved = []
    try:
        # A modal <dialog> would block the tab buttons: close any open one first.
        driver.execute_script("document.querySelectorAll('dialog[open]').forEach(d => d.close())")
    except Exception:
        pass
    for tab in TABS:
        path = ARTIFACTS / f"{stem}-{tab}.png"
        try:
            driver.execute_script(
                "const t = document.querySelector(`[data-testid=\"tab-${arguments[0]}\"]`); if (t) t.click();", tab)
            time.sleep(0.5)  # let the tab load its data; only for the picture, never an assertion
            _full_page_screenshot(driver, path)
            saved.append(path)
        except Exception as error:  # keep going: one broken tab must not lose the others
            (ARTIFACTS / f"{stem}-{tab}.error.txt").write_text(repr(error))
    try:
        (ARTIFACTS / f"{stem}.html").write_text(driver.page_source)
    except Exception:
        pass
    try:
        lines = [f"{e.get('level')} {e.get('message')}" for e in driver.get_log("browser")]
        (ARTIFACTS / f"{stem}.console.txt").write_text("\n".join(lines) + "\n")
    except Exception:
        pass
    for d in _daemons:
        try:
            shutil.copyfile(d.log_path, ARTIFACTS / f"{stem}.daemon-{d.label}.log")
        except OSError:
            pass
    print(f"\nartifacts for {test_name}: " + ", ".join(str(p) for p in saved))


def _full_page_screenshot(driver, path):
    import base64

    try:
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        # Capturing beyond the viewport drops the vertical scrollbar, so the page lays out
        # up to the window's full width: clip at that, not at the scrollbar-less content size.
        width = max(size["width"], driver.execute_script("return window.innerWidth"))
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
        })
        path.write_bytes(base64.b64decode(shot["data"]))
    except Exception:
        driver.save_screenshot(str(path))
