"""The HTML email in a real browser (Debian's Chromium) at phone and desktop widths: nothing may
overflow horizontally. Screenshots go to test-artifacts/bulletin/ for a human to look at.

Chromium is required: without it these tests fail (CI installs it), they never skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from actwatch.bulletin.compose import compose
from actwatch.bulletin.model import Bulletin, StoredItem
from actwatch.bulletin.render import preview_links, render_html
from actwatch.bulletin.seasons import parse_season
from actwatch.config import Config
from tests.bulletin.fixtures import NOW
from tests.bulletin.test_render import golden_bulletin
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, REPO

ARTIFACTS = REPO / "test-artifacts" / "bulletin"
WIDTHS = (375, 700)

# Elements sticking out past the viewport, or text wider than its box (an unbroken URL).
OVERFLOW_SCRIPT = """
() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width) {
    found.push(`page scrolls: ${document.documentElement.scrollWidth} > ${width}`);
  }
  for (const element of document.body.querySelectorAll('*')) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 1 || box.left < -1) {
      found.push(`${element.tagName} ${Math.round(box.left)}..${Math.round(box.right)}: `
                 + element.textContent.trim().slice(0, 60));
    }
  }
  return found;
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or CHROMIUM
    if not Path(executable).exists():
        pytest.fail(f"Chromium is required at {CHROMIUM} (apt-get install chromium)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def crowded_bulletin(config: Config) -> Bulletin:
    """Every section full, long words, long URLs: the hardest case for a narrow screen."""
    base = datetime(2017, 9, 1, 12, tzinfo=UTC)
    items = []
    for index, slug in enumerate(config.strands):
        for n in range(10):
            items.append(
                StoredItem(
                    id=index * 100 + n,
                    title=(
                        "Safeguarding-arrangements-transitional-provisions-and-consequential-"
                        f"amendments update {n}: what directors need to know"
                    ),
                    link="https://www.gov.uk/government/publications/" + "a-very-long-slug-" * 8,
                    source="GOV.UK (Department for Education)",
                    published_at=base + timedelta(hours=index * 20 + n),
                    summary="https://www.example.org/" + "unbroken" * 20 + " is cited. " * 3,
                    event_type="pilot" if n == 0 else "guidance",
                    strands=(slug,),
                )
            )
    return compose(
        config,
        parse_season(config, "autumn-2017"),
        items=items,
        headline="Supercalifragilisticexpialidocious-implementation-of-the-Act",
        intro_md="A link: <https://www.example.org/" + "x" * 120 + ">\n\n- a list\n- of points",
        issued_on=NOW.date(),
    )


@pytest.mark.browser
@pytest.mark.parametrize("name", ["golden", "crowded"])
@pytest.mark.parametrize("width", WIDTHS)
def test_no_horizontal_overflow(browser: Browser, config: Config, name: str, width: int) -> None:
    bulletin = golden_bulletin(config) if name == "golden" else crowded_bulletin(config)
    html = render_html(bulletin, preview_links(config, "autumn-2017"))
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        # No network: every link stays a link, nothing is fetched.
        page.route("**/*", lambda route: route.abort())
        page.set_content(html, wait_until="load")
        overflow = page.evaluate(OVERFLOW_SCRIPT)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        assert overflow == [], f"{name} at {width}px overflows:\n" + "\n".join(overflow[:10])
        # The column is the full width on a phone and a readable 640 px on a desktop.
        column = page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('h2')].map("
            "h => h.closest('table').closest('div').getBoundingClientRect().width))"
        )
        assert min(width, 640) - 60 <= column <= min(width, 640)
        font_size = page.evaluate(
            "() => parseFloat(getComputedStyle([...document.querySelectorAll('div')]"
            ".find(d => d.textContent.includes('Where are we now'))).fontSize)"
        )
        assert font_size >= 14
    finally:
        page.close()
