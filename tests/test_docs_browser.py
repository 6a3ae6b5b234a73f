"""The built site in a real browser: headless Chromium (Debian's ``chromium`` package) on localhost.

The site is served with Python's http.server on 127.0.0.1 (a free port). Chromium runs headless
and is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``: no extra
package, no open port), so the test can wait in real time for Material's search, which builds its
index in a web worker. It checks the home page (formulas rendered as MathML), a method page, a
search for "soft prompt" that finds the prompt-tuning method, the papers filter, and that no page
requests anything outside localhost. Screenshots go to the test's temporary folder and to
``docs_screenshots/`` at the repository root for review.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from test_docs_common import REPO, built_site  # noqa: F401  (the session fixture)

pytestmark = pytest.mark.browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser_binary():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """A headless Chromium driven by the DevTools protocol over the pipe on fds 3 and 4."""

    def __init__(self, binary: str, width: int = 1280, height: int = 1000):
        self.profile = tempfile.mkdtemp(prefix="nnr-chromium-")
        to_chrome_read, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_write = os.pipe()

        def child_fds():
            a, b = os.dup(to_chrome_read), os.dup(from_chrome_write)  # safe even if the pipes are fds 3/4
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--mute-audio",
            f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            preexec_fn=child_fds,
            pass_fds=(3, 4),
            close_fds=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self._buffer = b""
        self._id = 0
        self.events: list[dict] = []
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.send(f"{domain}.enable", session=True)

    def _read(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._from_chrome], [], [], remaining)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def send(self, method: str, session: bool = False, timeout: float = 60.0, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            time.sleep(0.1)
        return False

    def goto(self, url: str) -> None:
        self.send("Page.navigate", session=True, url=url)
        assert self.wait_for("document.readyState === 'complete'"), f"{url} did not finish loading"

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        params = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            height = self.evaluate("document.documentElement.scrollHeight")
            width = self.evaluate("document.documentElement.clientWidth")
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": min(height, 6000), "scale": 1}
        data = self.send("Page.captureScreenshot", session=True, **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(built_site):
    handler = functools.partial(_QuietHandler, directory=str(built_site.path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    binary = _browser_binary()
    if binary is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium; scripts/test.sh does it)")
    chromium = Chromium(binary)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    review = REPO / "docs_screenshots"
    review.mkdir(exist_ok=True)
    for picture in folder.glob("*.png"):
        shutil.copy2(picture, review / picture.name)


def test_home_page_renders_math(browser, server, screenshots):
    browser.goto(f"{server}/")
    assert browser.evaluate("document.querySelector('h1').textContent").startswith("Neural network reprogrammability")
    # the formula is MathML, laid out by the browser (a box with a real size), not LaTeX source
    size = browser.evaluate(
        "(() => { const m = document.querySelector('.nnr-math-block math'); const r = m.getBoundingClientRect();"
        " return [r.width, r.height]; })()"
    )
    assert size[0] > 100 and size[1] > 10
    assert "\\hat" not in browser.evaluate("document.querySelector('article').innerText")
    assert browser.screenshot(screenshots / "home.png").stat().st_size > 10_000


def test_method_page(browser, server, screenshots):
    browser.goto(f"{server}/methods/prompt-tuning/")
    assert browser.evaluate("document.querySelector('h1').textContent").startswith("Prompt tuning (PT)")
    text = browser.evaluate("document.querySelector('article').innerText")
    for expected in ("concatenative", "embedding", "Lester", 'get_method("prompt-tuning")', "Why these labels"):
        assert expected in text, expected
    formulas = browser.evaluate("document.querySelectorAll('article math').length")
    assert formulas >= 3
    link = browser.evaluate("document.querySelector('a[href$=\"prefix-tuning/\"]') !== null")
    assert link  # the relation to prefix tuning is a link
    assert browser.screenshot(screenshots / "method-prompt-tuning.png", full_page=True).stat().st_size > 10_000


def test_search_finds_the_soft_prompt_method(browser, server, screenshots):
    browser.goto(f"{server}/?q=soft+prompt")
    assert browser.wait_for("document.querySelectorAll('.md-search-result__item').length > 0", timeout=60), (
        "Material's search showed no results for 'soft prompt'"
    )
    links = browser.evaluate(
        "Array.from(document.querySelectorAll('.md-search-result__item > a')).map(a => a.getAttribute('href'))"
    )
    assert any("methods/prompt-tuning/" in link for link in links[:10]), links[:10]
    meta = browser.evaluate("document.querySelector('.md-search-result__meta').textContent")
    assert "matching document" in meta
    browser.screenshot(screenshots / "search-soft-prompt.png")


def test_papers_filter(browser, server, screenshots):
    browser.goto(f"{server}/catalog/papers/")
    assert browser.wait_for("document.querySelector('.nnr-filter input[type=search]') !== null")
    total = browser.evaluate("document.querySelectorAll('article table tbody tr').length")
    browser.evaluate(
        "(() => { const box = document.querySelector('.nnr-filter input[type=search]');"
        " box.value = 'prompt tuning'; box.dispatchEvent(new Event('input')); })()"
    )
    shown = browser.evaluate(
        "Array.from(document.querySelectorAll('article table tbody tr')).filter(r => r.style.display !== 'none')"
        ".map(r => r.textContent.toLowerCase())"
    )
    assert 0 < len(shown) < total
    assert all("prompt" in row and "tuning" in row for row in shown)
    assert browser.evaluate("document.querySelector('.nnr-count').textContent") == f"{len(shown)} of {total} papers"
    browser.screenshot(screenshots / "papers-filter.png")


def test_no_request_leaves_localhost(browser, server):
    urls = browser.requested_urls()
    assert urls, "no requests were recorded"
    outside = [u for u in urls if not u.startswith(server) and not u.startswith(("data:", "blob:", "about:"))]
    assert not outside, outside
