"""Debian's Chromium driven by playwright, as the browser tests use it: how to launch it here
(no sandbox, no GPU, no network of its own) and a page that records what went wrong in it.
The `browser` fixture is in tests/e2e/conftest.py."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic"]


class Watched:
    """A page that records console errors, uncaught exceptions and failed requests."""

    def __init__(self, browser, viewport, scheme="light", at: Optional[float] = None):
        self.context = browser.new_context(viewport=viewport, color_scheme=scheme)
        self.page = self.context.new_page()
        if at is not None:
            # The browser's own clock, which the page's age check reads (Date.now()).
            self.page.clock.install(time=datetime.fromtimestamp(at, timezone.utc))
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed {r.url}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"{r.status} {r.url}"))

    def close(self):
        self.context.close()
