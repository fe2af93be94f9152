"""The HTML explanation renders in a real browser, shows all the steps, and loads nothing from outside.

Headless Chromium opens the page `tls12 demo --explain html` wrote, from a
file. Its DOM after the scripts ran must hold every step; its network log
must show no request made by the page (the browser's own background
requests are told apart by their network isolation key: a page opened from
a file has ``file://``). The page's text is also checked for any outside
URL at all. A control page with an outside image and style sheet must be
caught by the same checks, so they are known to work. Chromium is required:
missing, it fails the tests (CI installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tls12.cli.main import main

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
STEPS = ["Step 1 · ClientHello", "Step 2 · ServerHello", "Step 3 · Certificate", "Step 4 · ServerKeyExchange",
         "Step 5 · ServerHelloDone", "Step 6 · ClientKeyExchange", "Step 7a · ChangeCipherSpec (client)",
         "Step 7b · Finished (client)", "Step 8a · ChangeCipherSpec (server)", "Step 8b · Finished (server)"]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path is not None, "headless Chromium is required for these tests (CI installs it) but is not on PATH"
    return path


def run_chromium(tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, url], capture_output=True,
                          text=True, timeout=120, check=False)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", "".join(parser.parts))


def page_requests(netlog: Path) -> list[str]:
    """URLs the page itself asked for, from Chromium's network log."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    kinds = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    assert log["events"], "empty network log"
    return [e["params"]["url"] for e in log["events"]
            if kinds.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in e.get("params", {})
            and "file://" in e["params"].get("network_isolation_key", "")]


# A scheme, a protocol-relative address, a CSS import, or url() other than to data: or to the page itself (#id).
_URL = re.compile(r"(?:https?|ftp|wss?):|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\((?!\s*['\"]?(?:data:|#))", re.I)


def outside_references(page: str) -> list[str]:
    """Anything in the page's markup, style or script that could point outside it."""
    return [m.group(0) for m in _URL.finditer(page)]


def load(tmp_path: Path, page: Path, fragment: str = "") -> tuple[str, list[str]]:
    netlog = tmp_path / f"netlog-{page.stem}.json"
    result = run_chromium(tmp_path, page.as_uri() + fragment, f"--log-net-log={netlog}", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, page_requests(netlog)


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("html") / "demo.html"
    assert main(["demo", "--explain", "html", "--output", str(page)]) == 0
    return page


def test_the_page_shows_every_step_in_chromium(tmp_path: Path, demo_page: Path) -> None:
    source = demo_page.read_text(encoding="utf-8")
    field = re.search(r'id="(bclient_hello-\d+)" class="[^"]*" data-n="random"', source)
    assert field is not None
    dom, requests = load(tmp_path, demo_page, f"#pin:{field[1]}")
    text = visible_text(dom)
    positions = [text.find(step) for step in STEPS]
    assert -1 not in positions, [s for s, p in zip(STEPS, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    for word in ("ClientHello", "ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone",
                 "ClientKeyExchange", "ChangeCipherSpec", "Finished", "After the handshake"):
        assert word in text
    assert "✓ Handshake complete" in text
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (0xC030)" in text
    # The scripts ran: the page marked itself, and the field named in the address is pinned and explained.
    assert re.search(r'<html[^>]*class="[^"]*\bjs\b', dom)
    assert re.search(rf'id="{field[1]}" class="[^"]*\bpin\b', dom)
    assert '<div class="iname">random</div>' in dom
    assert requests == [], f"the page loaded {requests}"


def test_a_mutual_tls_page_shows_its_three_steps_in_chromium(tmp_path: Path) -> None:
    """`tls12 demo --client-cert --explain html`: the steps mutual TLS adds, in their places, and a word on them."""
    page = tmp_path / "mutual.html"
    assert main(["demo", "--client-cert", "--explain", "html", "--output", str(page)]) == 0
    dom, requests = load(tmp_path, page)
    text = visible_text(dom)
    steps = [*STEPS[:4], "Step 4b · CertificateRequest", STEPS[4], "Step 5b · Certificate (client)", STEPS[5],
             "Step 6b · CertificateVerify", *STEPS[6:]]
    positions = [text.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    assert "This one is mutual TLS" in text and "✓ Handshake complete" in text
    assert "server checked client CertificateVerify" in text
    assert requests == [], f"the page loaded {requests}"


def test_the_page_refers_to_nothing_outside(demo_page: Path) -> None:
    source = demo_page.read_text(encoding="utf-8")
    assert outside_references(source) == []
    assert "Content-Security-Policy" in source and "default-src 'none'" in source
    assert not re.search(r"<(?:img|link|iframe|object|embed|audio|video|source)\b", source)


def test_the_checks_catch_a_page_that_loads_from_outside(tmp_path: Path) -> None:
    """The control: the same checks, on a page with an outside image and style sheet, must object."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" href="https://fonts.example.invalid/a.css">'
                    '</head><body><p>Step 1</p><img src="http://127.0.0.1:9/x.png"></body></html>',
                    encoding="utf-8")
    _, requests = load(tmp_path, page)
    assert "http://127.0.0.1:9/x.png" in requests
    assert "https://fonts.example.invalid/a.css" in requests
    assert outside_references(page.read_text(encoding="utf-8"))


def test_the_page_reads_without_javascript(tmp_path: Path, demo_page: Path) -> None:
    """Without its script, every step is still there (open <details>), and each byte's field is in its title."""
    page = tmp_path / "noscript.html"
    source = demo_page.read_text(encoding="utf-8")
    page.write_text(re.sub(r"<script>.*?</script>", "", source, flags=re.S), encoding="utf-8")
    assert "<script" not in page.read_text(encoding="utf-8")
    dom, requests = load(tmp_path, page)
    assert requests == []
    text = visible_text(dom)
    assert all(step in text for step in STEPS)
    assert not re.search(r'<html[^>]*class="[^"]*\bjs\b', dom)  # the scripts really did not run
    assert re.search(r'data-n="random"[^>]*title="random: [0-9a-f]{64}', dom)
    assert dom.count("<details open") >= len(STEPS)


def test_a_screenshot_can_be_taken(tmp_path: Path, demo_page: Path) -> None:
    shot = tmp_path / "page.png"
    result = run_chromium(tmp_path, demo_page.as_uri(), f"--screenshot={shot}", "--window-size=1280,1600",
                          "--hide-scrollbars")
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000  # a rendered page, not a blank one
