"""What the browser tests share: the app under uvicorn in a thread, Debian's Chromium, pages
that collect their console errors, and screenshots under test-artifacts/."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from starlette.applications import Starlette

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, REPO, free_port

ARTIFACTS = REPO / "test-artifacts" / "editor"
PHONE: ViewportSize = {"width": 375, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1, in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def watch(page: Page, problems: list[str]) -> Page:
    """Collect the page's console errors and uncaught exceptions into `problems`."""
    page.on(
        "console",
        lambda message: (
            problems.append(f"{message.text} at {message.location}")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


def shot(page: Page, name: str, *, full_page: bool = True, folder: Path = ARTIFACTS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def sideways_overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    width: int = page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )
    return max(width, 0)


def in_view(page: Page, selector: str) -> bool:
    """Is the element wholly (or, if taller than the window, partly) inside the window?"""
    found: bool = page.eval_on_selector(
        selector,
        """element => {
            const box = element.getBoundingClientRect();
            if (box.height >= window.innerHeight) {
                return box.top < window.innerHeight && box.bottom > 0;
            }
            return box.top >= 0 && box.bottom <= window.innerHeight;
        }""",
    )
    return found
