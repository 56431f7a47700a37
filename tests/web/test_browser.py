"""The editor's whole path in Debian's Chromium: log in, exclude an item, write the
introduction, preview at desktop and phone widths, approve. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import Engine, select
from starlette.applications import Starlette

from actwatch.config import Config
from actwatch.db.schema import bulletins, items
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.review.conftest import Draft
from tests.web.browser import serving, shot, watch
from tests.web.conftest import EDITOR, PASSWORD, draft_with_editor

INTRO = "Autumn brought the **first provisions** into force.\n\n- Care leavers\n- Safeguarding"


@pytest.fixture
def draft(sqlite_engine: Engine, config: Config) -> Draft:
    """The browser drives the pages; their storage is tested on both backends in test_routes."""
    return draft_with_editor(sqlite_engine, config)


@pytest.fixture
def server(app: Starlette) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.mark.browser
def test_log_in_exclude_write_intro_preview_approve(
    server: str, draft: Draft, tmp_path: Path
) -> None:
    excluded = draft.ids[7]
    with draft.engine.connect() as connection:
        title = connection.execute(select(items.c.title).where(items.c.id == excluded)).scalar_one()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            page = watch(context.new_page(), problems)

            # Log in with the keyboard alone.
            page.goto(f"{server}/editor/bulletins/1")
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            shot(page, "01-login")
            page.get_by_label("Name").fill(EDITOR)
            page.get_by_label("Password").fill(PASSWORD)
            page.keyboard.press("Enter")
            # scrypt at OWASP's cost takes a while on a loaded machine
            expect(page.get_by_text(f"Welcome, {EDITOR}.")).to_be_visible(timeout=60_000)
            expect(page.get_by_role("heading", level=1)).to_contain_text("Autumn 2017 news")
            shot(page, "02-draft")

            # Exclude an item: it moves to "Left out", and the preview no longer has it.
            page.get_by_role("button", name=f"Exclude: {title}").click()
            expect(
                page.get_by_text(f"Item {excluded} is left out of the bulletin.")
            ).to_be_visible()
            left_out = page.locator("#excluded")
            expect(left_out.get_by_role("link", name=title)).to_be_visible()
            expect(page.frame_locator("#preview").get_by_text(title)).to_have_count(0)

            # Write the introduction; the live preview renders the Markdown while typing.
            intro = page.get_by_role("textbox", name="Introduction")
            intro.fill(INTRO)
            expect(page.locator("#intro-live strong")).to_have_text("first provisions")
            page.get_by_role("button", name="Save introduction").click()
            expect(page.get_by_text("Saved the introduction.")).to_be_visible()
            frame = page.frame_locator("#preview")
            expect(frame.get_by_text("first provisions")).to_be_visible()
            shot(page, "03-edited-desktop-preview")

            # The phone width.
            page.get_by_text("Phone", exact=True).click()
            expect(page.locator("#preview")).to_have_js_property("offsetWidth", 375)
            shot(page, "04-phone-preview", full_page=False)
            page.get_by_text("Desktop", exact=True).click()

            # Approve exactly this version.
            page.get_by_role("button", name="Approve this version").click()
            expect(page.get_by_role("status")).to_contain_text(
                f"Approved by {EDITOR}: this exact copy"
            )
            expect(page.locator(".status-line .state")).to_have_text("Approved")
            shot(page, "05-approved")

            page.goto(f"{server}/editor/bulletins/1/audit")
            expect(
                page.get_by_role("cell", name=re.compile(r"^Approved this copy"))
            ).to_be_visible()
            shot(page, "06-audit")
            page.goto(f"{server}/editor/")
            shot(page, "07-dashboard")
            context.close()
        finally:
            browser.close()

    with draft.engine.connect() as connection:
        stored = connection.execute(select(bulletins)).one()
    assert stored.state == "approved" and stored.approved_by == EDITOR
    assert "first provisions" in stored.frozen_html and title not in stored.frozen_html
    assert stored.approved_revision == stored.revision == 3
    assert problems == [], "\n".join(sorted(set(problems)))
