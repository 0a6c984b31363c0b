"""Fixtures for the dashboard's browser tests.

* ``daemon``: a real storeplatformd (simulated cluster, fast delays, rate limits lifted)
  serving the dashboard from this repository, started once per session.
* ``crash_daemon``: a second one with ``--sim-fault crashloop`` (the fault hits the
  first attempt of each store only, so a retry succeeds); started only when a test asks.
* ``upgrade_fault_daemon``: one with ``--sim-fault upgrade-error`` (the first upgrade of
  each store fails and is rolled back by itself); started only when a test asks.
* ``fleet_daemons``: starts daemons of a test's own, for fleet upgrades (one active at a
  time per daemon, over every live store), with the test's extra flags (``--sim-fault
  upgrade-error@NAME``); stopped when the test ends.
* ``slow_daemon``: a daemon with a 2 s install and pods ready 2 s later, for the
  provisioning steps; started only when a test asks.
* ``behind_daemon``: a third one with ``--event-buffer 1 --watch-replay-limit 3``, so the
  dashboard's event stream falls behind and resumes in several steps; started only when
  a test asks.
* ``many_daemon``: a daemon holding 130 stores (``bulk-000`` … ``bulk-129``, one deleted), more
  than the dashboard reads in one page; started only when a test asks.
* ``browser``: a fresh headless Chromium (chromium-driver) per test. Every test that uses
  it runs twice, at 1280x900 and at 390x844 (``window_size``), unless it is marked
  ``own_window_sizes`` (it sets the sizes itself).

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
TABS = ("stores", "activity", "metrics", "fleet")


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
    # Every test runs at two sizes: room for the stores a test keeps while it runs.
    d = _start("main", ["--max-live-stores", "50"])
    yield d
    _finish(d)


@pytest.fixture(scope="session")
def crash_daemon():
    d = _start("crashloop", ["--sim-fault", "crashloop"])
    yield d
    _finish(d)


@pytest.fixture(scope="session")
def upgrade_fault_daemon():
    """A daemon whose simulated cluster fails the first upgrade of every store (helm upgrade
    errs), so the platform rolls it back by itself. Started only when a test asks."""
    d = _start("upgrade-fault", ["--sim-fault", "upgrade-error"])
    yield d
    _finish(d)


@pytest.fixture
def fleet_daemons():
    """Starts daemons of the test's own (fleet upgrades are one at a time per daemon, and
    "every live store" means every one): ``fleet_daemons(*extra_args)`` returns a new one,
    stopped when the test ends."""
    started = []

    def start(*extra_args):
        d = _start(f"fleet-{len(started) + 1}", ["--max-live-stores", "50", *extra_args])
        started.append(d)
        return d

    yield start
    for d in started:
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


@pytest.fixture(scope="session")
def many_daemon():
    """130 stores, newest last created: more than one page of the dashboard's list (100).
    One provisioning slot and a slow install, so most stay queued while a test looks; the
    second oldest, ``bulk-001``, is deleted (so it is beyond the first page by every order)."""
    d = _start("many", ["--max-live-stores", "1000", "--max-concurrent-provisions", "1",
                        "--sim-install-delay", "5", "--sim-ready-delay", "0.5"])
    for index in range(130):
        d.api("POST", "/api/stores", {"name": f"bulk-{index:03d}"})
    deleted = d.store_by_name("bulk-001")
    d.api("DELETE", f"/api/stores/{deleted['id']}")
    deadline = time.monotonic() + 60
    while d.api("GET", f"/api/stores/{deleted['id']}")["status"] != "deleted":
        if time.monotonic() > deadline:
            raise RuntimeError("bulk-001 was never deleted:\n" + d.log_tail())
        time.sleep(0.1)
    yield d
    _finish(d)


# Every browser test runs at both sizes: a desktop window and a phone's.
WINDOW_SIZES = {"1280x900": (1280, 900), "390x844": (390, 844)}


def pytest_generate_tests(metafunc):
    if "browser" in metafunc.fixturenames and metafunc.definition.get_closest_marker("own_window_sizes") is None:
        metafunc.parametrize("window_size", list(WINDOW_SIZES.values()), ids=list(WINDOW_SIZES), indirect=True)


@pytest.fixture
def window_size(request):
    """The browser's window size: this run's of WINDOW_SIZES, or the desktop one for a test
    that sets its own sizes."""
    return getattr(request, "param", WINDOW_SIZES["1280x900"])


@pytest.fixture
def browser(request, window_size):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(*window_size)
    deadline = time.monotonic() + 10
    while driver.execute_script("return window.innerWidth") != window_size[0]:
        if time.monotonic() > deadline:
            driver.quit()
            raise RuntimeError(f"could not make the window {window_size[0]} px wide")
        time.sleep(0.05)
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
