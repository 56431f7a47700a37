"""The public pages in Debian's Chromium at a phone's width (375 px) and a desktop's (1,280 px):
checkboxes keep their size, nothing overflows sideways with a long council address, and the
archive keeps its lines to about 70 characters. Screenshots go to test-artifacts/public/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select, update

from actwatch.db.schema import bulletins, subscribers
from actwatch.review import approve
from actwatch.subscribers import Tokens, import_file
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, REPO
from tests.review.conftest import Draft
from tests.web.conftest import SECRET
from tests.web.test_browser import server

__all__ = ["server"]
ARTIFACTS = REPO / "test-artifacts" / "public"
# An ordinary address at a council with a long name.
ADDRESS = "childrens.services.safeguarding@royalboroughofkensingtonandchelsea.gov.uk"
WIDTHS = (375, 1280)
APPROVED_AT = datetime(2017, 12, 4, 10, 0, tzinfo=UTC)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def overflow(page: Page) -> int:
    """How far the page is wider than the window (0 when nothing sticks out)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def reader_links(draft: Draft, tmp_path: Path) -> tuple[str, str]:
    readers = tmp_path / "readers.csv"
    readers.write_text(f"email,name,strands\n{ADDRESS},,care-leavers\n", encoding="utf-8")
    assert import_file(draft.engine, draft.config, readers).added == 1
    with draft.engine.connect() as connection:
        row = connection.execute(select(subscribers.c.id, subscribers.c.token_nonce)).one()
    token = Tokens(SECRET).link_token(row.id, row.token_nonce)
    return f"/unsubscribe/{token}", f"/preferences/{token}"


def sent(draft: Draft) -> None:
    """Approve the draft and record it as sent a week later (the archive shows sent issues)."""
    approve(draft.engine, draft.config, draft.bulletin_id, by="Ed", now=APPROVED_AT)
    later = APPROVED_AT + timedelta(days=7)
    with draft.engine.begin() as connection:
        connection.execute(
            update(bulletins).values(state="sent", send_started_at=later, sent_at=later)
        )


@pytest.mark.browser
def test_public_pages_fit_a_phone_and_a_desktop(server: str, draft: Draft, tmp_path: Path) -> None:
    unsubscribe, preferences = reader_links(draft, tmp_path)
    sent(draft)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": 900})
                page = context.new_page()
                for name, path in (
                    ("subscribe", "/subscribe"),
                    ("preferences", preferences),
                    ("unsubscribe", unsubscribe),
                    ("archive", "/archive/"),
                    ("issue", "/archive/autumn-2017"),
                ):
                    page.goto(server + path)
                    shot(page, f"{name}-{width}")
                    assert overflow(page) <= 0, f"{name} is wider than {width} px"
                    boxes = page.locator("input[type=checkbox]")
                    for index in range(boxes.count()):
                        box = boxes.nth(index).bounding_box()
                        assert box is not None
                        assert box["width"] <= 24, f"{name}: a checkbox is {box['width']} px wide"
                    if name in ("subscribe", "preferences"):
                        assert boxes.count() == len(draft.config.strands)
                        # Each strand's name sits on the checkbox's line.
                        label = page.get_by_label("Care leavers", exact=False).first
                        box = label.bounding_box()
                        text = page.get_by_text("Care leavers", exact=True).first.bounding_box()
                        assert box is not None and text is not None
                        assert abs(box["y"] - text["y"]) < 16
                    if name == "unsubscribe":
                        assert page.get_by_text(ADDRESS).is_visible()
                    if name == "issue" and width == 1280:
                        # About 70 characters a line: the paragraph's width in `ch` of its font.
                        chars = page.evaluate(
                            """() => {
                              const p = [...document.querySelectorAll('article.bulletin p')]
                                .find((e) => e.textContent.startsWith('This season'));
                              const probe = document.createElement('span');
                              probe.textContent = '0'.repeat(100);
                              probe.style.cssText = 'position:absolute;white-space:nowrap';
                              p.appendChild(probe);
                              const per = probe.getBoundingClientRect().width / 100;
                              probe.remove();
                              return p.getBoundingClientRect().width / per;
                            }"""
                        )
                        assert 60 <= chars <= 72, f"{chars:.0f} characters a line"
                context.close()
        finally:
            browser.close()


@pytest.mark.browser
def test_the_archive_shows_the_issue_date(server: str, draft: Draft) -> None:
    sent(draft)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/archive/")
            # Approved (so issued) on 4 December, sent a week later: the archive says 4 December,
            # as the bulletin itself does.
            assert page.locator(".meta").first.inner_text() == "4 December 2017"
            page.goto(f"{server}/archive/autumn-2017")
            assert "4 December 2017" in page.locator("p.meta").inner_text()
            assert "As of 4 December 2017" in page.locator("article").inner_text()
        finally:
            browser.close()
