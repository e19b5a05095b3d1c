"""A small Chrome DevTools Protocol client for the browser tests: headless Chromium driven over
``--remote-debugging-pipe`` (Chromium reads commands on fd 3 and writes replies and events on fd 4,
each message one JSON document ending in a NUL byte), so no websocket library is needed.

``Chromium`` owns the browser process; ``Page`` is one tab attached in flat session mode. Every
event of a page is kept (``Page.events``), so a test can assert on console errors, exceptions and
network requests after the fact. ``Chromium.close`` always leaves no process behind: it asks the
browser to close, then ends its process group, then any process still in that group or naming the
browser's private temporary directory — only those, by pid.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# What the issue asks for, plus what a test browser needs: a throw-away profile, no first-run UI,
# no component/extension updates, a fixed viewport.
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--remote-debugging-pipe",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--window-size=1280,900",
    # nothing leaves the machine even if a page tried: no name resolves, and every http(s) request
    # goes to a proxy on 127.0.0.1's discard port, which refuses it (requests are still reported)
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
)


BASH = shutil.which("bash") or "/bin/bash"


class BrowserError(RuntimeError):
    """Chromium could not be started, crashed, or did not answer in time."""


def find_chromium() -> str | None:
    """The Chromium binary: ``$ROTSCAN_CHROMIUM`` if set, else ``chromium`` (Debian) on PATH."""
    explicit = os.environ.get("ROTSCAN_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The Chromium binary, or skip the test with the reason — fail it instead when ``CI`` is set,
    so a CI run without a browser cannot pass by skipping."""
    import pytest

    binary = find_chromium()
    if binary is None:
        reason = ("chromium not found: install the Debian package (apt-get install chromium; "
                  "scripts/setup.sh does it when run as root) or set ROTSCAN_CHROMIUM")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def artifacts_dir() -> Path:
    """Where tests put screenshots: ``$ROTSCAN_TEST_ARTIFACTS``, else ``reports/test-artifacts``."""
    target = Path(os.environ.get("ROTSCAN_TEST_ARTIFACTS") or REPO / "reports" / "test-artifacts")
    target.mkdir(parents=True, exist_ok=True)
    return target


def _high_fd(fd: int) -> int:
    """A close-on-exec duplicate of ``fd`` numbered 10 or above (so it can never be 3 or 4)."""
    dup = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return dup


def _our_pids(pgid: int, tmp_dir: str) -> list[int]:
    """Live processes of this browser: members of its process group, or any process whose command
    line names its private temporary directory (helpers that left the group, e.g. crashpad)."""
    needle = tmp_dir.encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":  # a zombie has exited already; its parent or init reaps it
            continue
        if int(fields[2]) == pgid or needle in cmdline:
            pids.append(int(entry.name))
    return pids


class Chromium:
    """One headless Chromium process and the CDP connection to it. Use as a context manager."""

    def __init__(self, binary: str, *, extra_flags: tuple[str, ...] = (), timeout: float = 30.0) -> None:
        self.binary = binary
        self.timeout = timeout
        self._tmp = tempfile.mkdtemp(prefix="rotscan-chromium-")
        self.profile = os.path.join(self._tmp, "profile")
        self.log_path = os.path.join(self._tmp, "chromium.log")
        self._next_id = 0
        self._lock = threading.Condition()
        self._replies: dict[int, dict[str, Any]] = {}
        self._listeners: dict[str | None, Callable[[dict[str, Any]], None]] = {}
        self.events: list[dict[str, Any]] = []  # browser-level events (no session): downloads
        self._events_cond = threading.Condition()
        self._closed_reason: str | None = None
        self._write_fd = -1
        self.proc = self._start(extra_flags)
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()
        try:
            self.version = self.send("Browser.getVersion")
        except BaseException:
            self.close()
            raise

    # -- process ------------------------------------------------------------------------------

    def _start(self, extra_flags: tuple[str, ...]) -> subprocess.Popen[bytes]:
        to_browser_r, to_browser_w = (_high_fd(fd) for fd in os.pipe())
        from_browser_r, from_browser_w = (_high_fd(fd) for fd in os.pipe())
        argv = [self.binary, *BASE_FLAGS, f"--user-data-dir={self.profile}", *extra_flags, "about:blank"]
        # Chromium expects the pipe on fds 3 and 4 exactly; Popen keeps fds under their own numbers,
        # so bash moves them there (both source fds are >= 10, so the moves cannot collide; dash
        # cannot name fds above 9).
        script = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        try:
            with open(self.log_path, "wb") as log:
                proc = subprocess.Popen(
                    [BASH, "-c", script, "chromium", *argv],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    pass_fds=(to_browser_r, from_browser_w), start_new_session=True,
                )
        except OSError as exc:
            for fd in (to_browser_r, to_browser_w, from_browser_r, from_browser_w):
                os.close(fd)
            raise BrowserError(f"cannot start {self.binary}: {exc}") from exc
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._write_fd = to_browser_w
        self._read_fd = from_browser_r
        return proc

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])
        return ""

    def close(self) -> None:
        """Close the browser and make sure none of its processes survive. Safe to call twice."""
        if self._write_fd >= 0 and self.proc.poll() is None and self._closed_reason is None:
            with contextlib.suppress(BrowserError, OSError):
                self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, sig)
                try:
                    self.proc.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # Helpers (zygote, renderers, GPU, network service) exit with the browser; give them a
        # moment, then end any that did not, by pid.
        deadline = time.monotonic() + 5
        while self.leftover_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self.leftover_pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if self._write_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._write_fd)
            self._write_fd = -1
        self._reader.join(timeout=5)
        with contextlib.suppress(OSError):
            os.close(self._read_fd)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def leftover_pids(self) -> list[int]:
        """Processes of this browser still running (none after ``close``)."""
        return _our_pids(self.proc.pid, self._tmp)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- protocol -----------------------------------------------------------------------------

    def _read_loop(self) -> None:
        pending: list[bytes] = []  # the start of a message whose NUL has not arrived yet
        reason = "the browser closed the DevTools pipe"
        try:
            while True:
                chunk = os.read(self._read_fd, 1 << 20)
                if not chunk:
                    break
                if b"\0" not in chunk:  # a large message (a screenshot) arrives in many chunks
                    pending.append(chunk)
                    continue
                *messages, rest = (b"".join(pending) + chunk).split(b"\0")
                pending = [rest] if rest else []
                for raw in messages:
                    self._dispatch(json.loads(raw))
        except OSError as exc:
            reason = f"reading the DevTools pipe failed: {exc}"
        with self._lock:
            self._closed_reason = reason
            self._lock.notify_all()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            with self._lock:
                self._replies[message["id"]] = message
                self._lock.notify_all()
            return
        session = message.get("sessionId")
        if session is None:
            with self._events_cond:
                self.events.append(message)
                self._events_cond.notify_all()
        listener = self._listeners.get(session)
        if listener is not None:
            listener(message)

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """Send one command and wait for its reply; the reply's ``result``, or BrowserError."""
        with self._lock:
            if self._closed_reason is not None:
                raise BrowserError(f"{method}: {self._closed_reason}")
            self._next_id += 1
            msg_id = self._next_id
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._write_fd, data):]
        except OSError as exc:
            raise BrowserError(f"{method}: cannot write to the DevTools pipe: {exc}") from exc
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._lock:
            while msg_id not in self._replies:
                if self._closed_reason is not None:
                    raise BrowserError(f"{method}: {self._closed_reason}\n{self.log_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"{method}: no reply within {self.timeout if timeout is None else timeout} s")
                self._lock.wait(left)
            reply = self._replies.pop(msg_id)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')} ({reply['error']})")
        return reply.get("result", {})

    # -- downloads ----------------------------------------------------------------------------

    def allow_downloads(self, directory: Path) -> None:
        """Save every download into ``directory`` under its suggested name, with progress events."""
        directory.mkdir(parents=True, exist_ok=True)
        self.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(directory),
                                                  "eventsEnabled": True})

    def wait_for_download(self, directory: Path, *, since: int = 0, timeout: float = 30.0) -> Path:
        """The file of the first download that began at or after index ``since`` of ``events``,
        once Chromium reports it completed (raises if it was cancelled or did not finish)."""
        deadline = time.monotonic() + timeout
        guid = name = None
        with self._events_cond:
            while True:
                for event in self.events[since:]:
                    params = event.get("params", {})
                    if event.get("method") == "Browser.downloadWillBegin" and guid is None:
                        guid, name = params["guid"], params["suggestedFilename"]
                    elif event.get("method") == "Browser.downloadProgress" and params.get("guid") == guid:
                        if params.get("state") == "completed":
                            assert name is not None
                            return directory / name
                        if params.get("state") == "canceled":
                            raise BrowserError(f"the download of {name} was cancelled")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"no completed download within {timeout} s (began: {name})")
                self._events_cond.wait(left)

    @contextlib.contextmanager
    def page(self, *, width: int = 1280, height: int = 900) -> Iterator[Page]:
        """A fresh tab (about:blank) with Runtime, Log, Network and Page events enabled."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        try:
            session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            page = Page(self, session)
            self._listeners[session] = page._on_event
            try:
                page.enable(width=width, height=height)
                yield page
            finally:
                self._listeners.pop(session, None)
        finally:
            with contextlib.suppress(BrowserError):
                self.send("Target.closeTarget", {"targetId": target}, timeout=10)


class Page:
    """One attached tab. ``events`` holds every event it sent, in order."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def _on_event(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method == "Page.javascriptDialogOpening":
            # Record it (the test fails on any dialog) and dismiss it so the page does not block.
            threading.Thread(target=self._dismiss_dialog, daemon=True).start()
        with self._cond:
            self.events.append(message)
            self._cond.notify_all()

    def _dismiss_dialog(self) -> None:
        with contextlib.suppress(BrowserError):
            self.send("Page.handleJavaScriptDialog", {"accept": False}, timeout=5)

    def send(self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
             ) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def enable(self, *, width: int, height: int) -> None:
        for domain in ("Runtime", "Log", "Network", "Page", "Audits"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    # -- events -------------------------------------------------------------------------------

    def wait_for_event(self, method: str, *, since: int = 0, timeout: float = 30.0) -> dict[str, Any]:
        """The first event ``method`` at or after index ``since`` of ``events``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[since:]:
                    if event.get("method") == method:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"no {method} event within {timeout} s")
                self._cond.wait(left)

    def events_named(self, *methods: str) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e.get("method") in methods]

    def problems(self) -> list[str]:
        """Console errors and failed assertions, uncaught exceptions, error log entries (CSP
        violations among them), Content-Security-Policy issues and JavaScript dialogs — as text."""
        found = []
        for event in self.events_named("Runtime.consoleAPICalled", "Runtime.exceptionThrown",
                                       "Log.entryAdded", "Audits.issueAdded",
                                       "Page.javascriptDialogOpening"):
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                found.append(f"console.{params['type']}: {args}")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text")
                found.append(f"uncaught exception: {text}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"log error ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
            elif method == "Audits.issueAdded" and params.get("issue", {}).get("code") == "ContentSecurityPolicyIssue":
                found.append(f"CSP violation: {params['issue'].get('details')}")
            elif method == "Page.javascriptDialogOpening":
                found.append(f"JavaScript dialog ({params.get('type')}): {params.get('message')!r}")
        return found

    def requests(self) -> list[str]:
        """The URL of every request the page made (``Network.requestWillBeSent``), in order."""
        return [e["params"]["request"]["url"] for e in self.events_named("Network.requestWillBeSent")]

    # -- actions ------------------------------------------------------------------------------

    def navigate(self, url: str, *, timeout: float = 60.0) -> float:
        """Load ``url`` and wait for its load event; the seconds it took."""
        since = len(self.events)
        started = time.perf_counter()
        reply = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if reply.get("errorText"):
            raise BrowserError(f"navigating to {url} failed: {reply['errorText']}")
        self.wait_for_event("Page.loadEventFired", since=since, timeout=timeout)
        return time.perf_counter() - started

    def evaluate(self, expression: str, *, timeout: float | None = None) -> Any:
        """The value of a JavaScript expression (awaited if a promise); raises on a JS exception."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            raise BrowserError(f"evaluating {expression[:80]!r}: "
                               f"{details.get('exception', {}).get('description') or details.get('text')}")
        return reply["result"].get("value")

    def wait_until(self, expression: str, *, timeout: float = 20.0, interval: float = 0.02) -> float:
        """Poll until ``expression`` is truthy; the seconds it took."""
        started = time.perf_counter()
        while not self.evaluate(expression):
            if time.perf_counter() - started > timeout:
                raise BrowserError(f"{expression!r} still false after {timeout} s")
            time.sleep(interval)
        return time.perf_counter() - started

    def press(self, key: str, *, shift: bool = False) -> None:
        """A real key press (keyDown with its character, then keyUp): Tab, Enter, Space, ..."""
        code, key_name, vk, text = {
            "Tab": ("Tab", "Tab", 9, ""),
            "Enter": ("Enter", "Enter", 13, "\r"),
            "Space": ("Space", " ", 32, " "),
            "Escape": ("Escape", "Escape", 27, ""),
            "Backspace": ("Backspace", "Backspace", 8, ""),
        }[key]
        common = {"key": key_name, "code": code, "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk,
                  "modifiers": 8 if shift else 0}
        self.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": text, "unmodifiedText": text, **common})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **common})

    def insert_text(self, text: str) -> None:
        """Type ``text`` into the focused element (fires real ``input`` events)."""
        self.send("Input.insertText", {"text": text})

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the first element matching ``selector``."""
        box = self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " if (!el) return null; el.scrollIntoView({block: 'center'});"
            " const r = el.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if box is None:
            raise BrowserError(f"nothing matches {selector!r}")
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent",
                      {"type": kind, "x": x, "y": y, "button": "left" if kind != "mouseMoved" else "none",
                       "clickCount": 1})

    def screenshot(self, path: Path, *, max_height: int = 16_000) -> Path:
        """A full-page PNG (up to ``max_height`` CSS pixels tall) written to ``path``."""
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width, height = max(1, int(size["width"])), max(1, min(int(size["height"]), max_height))
        shot = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "fromSurface": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        }, timeout=60)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


# -- the report's DOM hooks ---------------------------------------------------------------------
# The browser tests rely only on these (agreed with the report's table code), so restyling the
# report does not break them: section#findings; one ``tr id="f-<finding id>"`` per finding in
# ``table.findings tbody``; the search box ``input[data-search]``; filter ``select[data-col]``
# whose option values are category/kind/action strings; ``[data-count]`` reading "Showing N of M
# findings"; hidden rows carry ``hidden``; at most ``data-page-size`` rows show at once; a row
# expands through ``details/summary`` or ``button[aria-expanded]``.

FINDINGS = "section#findings"
ROWS = "section#findings table.findings tbody tr[id^='f-']"
SEARCH = "section#findings input[data-search]"
EXPANDER = f"{ROWS} summary, {ROWS} button[aria-expanded]"

_COUNT = re.compile(r"Showing\s+([\d,]+)\s+of\s+([\d,]+)")


class ReportView:
    """The review report loaded in a ``Page``, seen through the hooks above."""

    def __init__(self, page: Page, path: Path) -> None:
        self.page = page
        self.path = path
        self.url = path.resolve().as_uri()

    def load(self) -> float:
        """Navigate to the report file; the seconds until its load event."""
        return self.page.navigate(self.url)

    def timing(self) -> dict[str, float]:
        """The page's own navigation timing (ms from the start of navigation)."""
        return self.page.evaluate(
            "(() => { const n = performance.getEntriesByType('navigation')[0];"
            " return {domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()"
        )

    def row_ids(self) -> list[str]:
        """Finding ids of the table's rows, in DOM order (every row, shown or not)."""
        return self.page.evaluate(
            f"Array.from(document.querySelectorAll({json.dumps(ROWS)}), r => r.id.slice(2))"
        )

    def click_and_wait_for_reorder(self, selector: str, *, timeout: float = 20.0) -> float:
        """Click ``selector`` (a sort button) and wait until the rows' order changes; the seconds
        from the click to the new order."""
        order = f"Array.from(document.querySelectorAll({json.dumps(ROWS)}), r => r.id).join()"
        self.page.evaluate(f"window.__rotscanTestOrder = {order}; true")
        started = time.perf_counter()
        self.page.click(selector)
        try:
            self.page.wait_until(f"{order} !== window.__rotscanTestOrder", timeout=timeout)
        except BrowserError:
            raise AssertionError(f"clicking {selector} did not reorder the rows within {timeout} s") from None
        return time.perf_counter() - started

    def visible_ids(self) -> list[str]:
        """Ids of the rows on screen, in order. Checks that the browser shows exactly the rows
        without the ``hidden`` attribute."""
        shown, unhidden = self.page.evaluate(
            f"(() => {{ const rows = Array.from(document.querySelectorAll({json.dumps(ROWS)}));"
            " return [rows.filter(r => r.getClientRects().length > 0).map(r => r.id.slice(2)),"
            "         rows.filter(r => !r.hidden).map(r => r.id.slice(2))]; })()"
        )
        assert shown == unhidden, (f"the browser shows {len(shown)} rows, but {len(unhidden)} have no hidden "
                                   f"attribute: {sorted(set(shown) ^ set(unhidden))[:5]}")
        return shown

    def count(self) -> tuple[int, int]:
        """(N, M) of the "Showing N of M findings" line."""
        text = self.page.evaluate(f"document.querySelector('{FINDINGS} [data-count]').textContent")
        match = _COUNT.search(text)
        assert match, f"the count line {text!r} does not read 'Showing N of M findings'"
        return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))

    def page_size(self) -> int | None:
        value = self.page.evaluate(
            f"document.querySelector('{FINDINGS} table.findings').getAttribute('data-page-size')"
        )
        return int(value) if value else None

    def wait_for_count(self, shown: int, *, timeout: float = 20.0) -> float:
        """Wait until the count line says ``shown`` matches; the seconds it took."""
        try:
            return self.page.wait_until(
                f"(() => {{ const m = /Showing\\s+([\\d,]+)\\s+of/.exec("
                f"document.querySelector('{FINDINGS} [data-count]').textContent);"
                f" return m !== null && m[1].replace(/,/g, '') === '{shown}'; }})()",
                timeout=timeout,
            )
        except BrowserError:
            text = self.page.evaluate(f"document.querySelector('{FINDINGS} [data-count]').textContent")
            raise AssertionError(f"expected {shown} matching findings; after {timeout} s the page says {text!r}"
                                 ) from None

    def search(self, text: str) -> None:
        """Type ``text`` into the search box, replacing what it holds, as a user would: focus,
        select all, then insert text (or Backspace for an empty query) — real input events."""
        self.page.evaluate(f"(() => {{ const s = document.querySelector({json.dumps(SEARCH)});"
                           " s.focus(); s.select(); })()")
        if text:
            self.page.insert_text(text)
        else:
            self.page.press("Backspace")

    def choose(self, value: str) -> None:
        """Pick ``value`` (a category, kind, action, owner, or a decision filter value: none, kept,
        approved, lapsed, pending) in the filter select that offers it, and dispatch ``change``
        like a user's choice does; "" resets every filter select."""
        found = self.page.evaluate(
            f"(() => {{ const v = {json.dumps(value)};"
            f" const selects = Array.from(document.querySelectorAll('{FINDINGS} select[data-col], {FINDINGS} select[data-decision]'));"
            " const hit = v === '' ? selects"
            " : selects.filter(s => Array.from(s.options).some(o => o.value === v)).slice(0, 1);"
            " hit.forEach(s => { s.value = v; s.dispatchEvent(new Event('change', {bubbles: true})); });"
            " return hit.length; })()"
        )
        assert found, f"no filter select in {FINDINGS} offers {value!r}"

    # -- deciding (the review box: section#findings [data-review]) ------------------------------

    def text(self, selector: str) -> str:
        return self.page.evaluate(f"document.querySelector({json.dumps(selector)}).textContent.trim()")

    def tick(self, finding_id: str) -> None:
        """Click the selection box of a finding's row (revealing the row first if it is not shown)."""
        row = f"#f-{finding_id}"
        if self.page.evaluate(f"document.querySelector({json.dumps(row)}).hidden"):
            self.page.evaluate(f"location.hash = {json.dumps(row)}")
            self.page.wait_until(f"!document.querySelector({json.dumps(row)}).hidden")
        self.page.wait_until(f"document.querySelector({json.dumps(row + ' input.pick')}) !== null")
        self.page.click(f"{row} input.pick")

    def fill(self, selector: str, text: str) -> None:
        """Replace what the input ``selector`` holds with ``text``, typed (real input events)."""
        self.page.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                           " e.focus(); e.select(); })()")
        if text:
            self.page.insert_text(text)
        else:
            self.page.press("Backspace")

    def set_value(self, selector: str, value: str) -> None:
        """Set an input that cannot be typed into portably (a date) and fire input and change."""
        self.page.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.value = {json.dumps(value)};"
                           " e.dispatchEvent(new Event('input', {bubbles: true}));"
                           " e.dispatchEvent(new Event('change', {bubbles: true})); })()")

    def pending(self) -> list[str]:
        """Finding ids of the pending decisions this page keeps (its storage, in order)."""
        return self.page.evaluate(
            "(() => { const box = document.querySelector('section#findings [data-review]');"
            " const raw = localStorage.getItem('rotscan-decisions:' + box.getAttribute('data-key'));"
            " return raw ? JSON.parse(raw).items.map(i => i[0]) : []; })()")

    def assert_clean(self) -> None:
        """No console error, exception, CSP violation or dialog; no request but the report itself."""
        problems = self.page.problems()
        assert problems == [], "the report logged errors:\n" + "\n".join(problems)
        others = [u for u in self.page.requests() if u != self.url and not u.startswith("data:")]
        assert others == [], f"the report made network requests: {others}"

    def screenshot(self, name: str) -> Path:
        path = self.page.screenshot(artifacts_dir() / name)
        print(f"screenshot: {path}")
        return path
