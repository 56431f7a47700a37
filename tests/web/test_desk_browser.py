"""The editor's desk in Debian's Chromium at 1,280 and 375 px: the page keeps the editor's place
after every change with the message in view, drafts are made from the dashboard (and uncertain
items picked into seasons without one), the preview text and the inbox envelope, the audience
before approving and sending, "Send now" with its confirmation, the delivery report once sent,
the audit log in words, and no page scrolling sideways on a phone. Screenshots go to
test-artifacts/editor/desk-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select
from starlette.applications import Starlette

from actwatch import pipeline
from actwatch.bulletin import draft_bulletin, parse_season
from actwatch.bulletin.model import StoredItem
from actwatch.config import Config, parse_config
from actwatch.db.schema import bulletins
from actwatch.subscribers import import_file
from tests.bulletin.conftest import pinned_data
from tests.bulletin.fixtures import NOW, insert_item
from tests.delivery.smtp import Sink
from tests.review.conftest import Draft
from tests.web.browser import (
    DESKTOP,
    PHONE,
    chromium,
    in_view,
    serving,
    shot,
    sideways_overflow,
    watch,
)
from tests.web.conftest import EDITOR, PASSWORD, SECRET, draft_with_editor

READERS = (
    "email,name,strands\n"
    "all@example.org,Alex All,\n"
    "leavers@example.org,Lee Leavers,care-leavers\n"
    "safe@example.org,Sam Safe,safeguarding-partnerships\n"
)
PREHEADER = "Care leavers get a local offer; safeguarding partners begin"


@pytest.fixture
def config(tmp_path: Path, repo_config_data: dict[str, Any], sink: Sink) -> Config:
    """Test copies go to a maildir (the app's transport); the real send to an SMTP server."""
    data = pinned_data(repo_config_data)
    data["mail"] = {**data["mail"], "url": sink.url}
    return parse_config(data, tmp_path / "config.yaml")


def news(n: int, published: datetime, strand: str = "care-leavers") -> StoredItem:
    return StoredItem(
        id=0,
        title=f"Care leavers: council number {n} publishes its local offer",
        link=f"https://www.gov.uk/government/news/local-offer-{n}",
        source="GOV.UK",
        published_at=published,
        summary=f"Council {n} sets out what care leavers can expect, from housing to jobs.",
        event_type="guidance",
        strands=(strand,),
    )


@pytest.fixture
def draft(sqlite_engine: Engine, config: Config, tmp_path: Path) -> Draft:
    """A long autumn 2017 draft, three confirmed readers, an uncertain item of a season without
    a bulletin (winter) and relevant news of another (spring 2018)."""
    made = draft_with_editor(sqlite_engine, config)
    for n in range(1, 15):
        insert_item(sqlite_engine, news(n, datetime(2017, 10, n, 9, tzinfo=UTC)))
    draft_bulletin(sqlite_engine, config, parse_season(config, "autumn-2017"), NOW)
    insert_item(
        sqlite_engine,
        news(40, datetime(2018, 1, 15, 9, tzinfo=UTC)),
        state="uncertain",
    )
    insert_item(sqlite_engine, news(50, datetime(2018, 4, 3, 9, tzinfo=UTC)))
    readers = tmp_path / "readers.csv"
    readers.write_text(READERS, encoding="utf-8")
    assert import_file(sqlite_engine, config, readers).added == 3
    return made


@pytest.fixture
def server(app: Starlette) -> Iterator[str]:
    with serving(app) as url:
        yield url


def log_in(page: Page, server: str, path: str = "/editor/") -> None:
    page.goto(f"{server}/editor/login?next={path}")
    page.get_by_label("Name").fill(EDITOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # scrypt at OWASP's cost takes a while on a loaded machine
    expect(page.get_by_text(f"Welcome, {EDITOR}.")).to_be_visible(timeout=60_000)


def landed_on(page: Page, element_id: str, message: str) -> None:
    """The page shows the element the change was about, with the message in view, and the
    keyboard carries on from there."""
    expect(page).to_have_url(re.compile(f"#{element_id}$"))
    toast = page.locator(".flashes .flash").filter(has_text=message)
    expect(toast).to_be_visible()
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.id === id", arg=element_id
    )
    assert in_view(page, f"#{element_id}"), f"#{element_id} is out of view"
    assert in_view(page, ".flashes .flash"), "the message is out of view"


def deep_item(page: Page, below: int = 1200) -> str:
    """The id of an item that starts more than `below` px down the page."""
    found: str | None = page.evaluate(
        """below => {
            const item = [...document.querySelectorAll("li.item")]
                .find(li => li.getBoundingClientRect().top + window.scrollY > below
                            && li.querySelector("details.edit-item"));
            return item ? item.id : null;
        }""",
        below,
    )
    assert found, "the page is not long enough"
    return found


def no_sideways_scroll(page: Page, name: str) -> None:
    assert sideways_overflow(page) == 0, f"{name} is {sideways_overflow(page)}px too wide"


@pytest.mark.browser
def test_the_desk_at_desktop_width(server: str, draft: Draft, config: Config, sink: Sink) -> None:
    problems: list[str] = []
    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP)
        page = watch(context.new_page(), problems)
        log_in(page, server)

        # The dashboard: a draft for spring 2018, whose news has none; the winter item picked
        # into a winter bulletin drafted for it.
        drafts = page.locator("#drafts")
        expect(drafts).to_contain_text("Spring 2018")
        expect(drafts).not_to_contain_text("Autumn 2017")
        expect(page.locator("#uncertain")).to_contain_text("Winter 2017-18")
        shot(page, "desk-01-dashboard-1280")
        page.get_by_role("button", name=re.compile("^Add to the Winter 2017-18 bulletin")).click()
        expect(page.locator(".flashes")).to_contain_text("the winter-2017 draft was created for it")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Winter 2017")
        page.goto(f"{server}/editor/")
        page.get_by_role("button", name="Create the Spring 2018 draft").click()
        expect(page.locator(".flashes")).to_contain_text("Created the Spring 2018 draft with 1")
        page.goto(f"{server}/editor/")
        seasons = page.locator("#bulletins td.season").all_inner_texts()
        assert seasons == ["spring-2018", "winter-2017", "autumn-2017"]
        expect(page.locator("#drafts")).not_to_contain_text("Spring 2018")

        # The autumn draft: an edit far down the page lands back on its item.
        page.goto(f"{server}/editor/bulletins/1")
        expect(page.locator(".audience")).to_contain_text("Goes to 3 confirmed subscribers")
        target = deep_item(page)
        number = target.removeprefix("item-")
        item = page.locator(f"#{target}")
        item.scroll_into_view_if_needed()
        item.locator("summary").click()
        item.get_by_label("Summary").fill("A shorter summary, written by the editor.")
        item.get_by_role("button", name="Save summary").click()
        landed_on(page, target, f"Saved the summary for item {number}.")
        expect(page.locator(f"#{target} .summary")).to_have_text(
            "A shorter summary, written by the editor."
        )
        shot(page, "desk-02-landed-after-summary-1280", full_page=False)

        # Excluding one: the page lands on its neighbour, still far down.
        neighbour = page.locator(f"#{target} input[name=place]").get_attribute("value")
        assert neighbour and neighbour.startswith("item-")
        page.locator(f"#{target}").get_by_role("button", name=re.compile("^Exclude")).click()
        landed_on(page, neighbour, f"Item {number} is left out of the bulletin.")

        # The preview text: saved, shown in the envelope, hidden in the email itself.
        page.get_by_role("textbox", name="Preview text").fill(PREHEADER)
        page.get_by_role("button", name="Save preview text").click()
        landed_on(page, "preheader", "Saved the preview text.")
        expect(page.locator(".envelope .preview-text")).to_have_text(PREHEADER)
        expect(page.locator(".envelope .subject")).to_have_text(
            "Autumn 2017 news: Children & Social Work Act"
        )
        frame = page.frame_locator("#preview")
        expect(frame.locator("body")).to_contain_text(PREHEADER, use_inner_text=False)

        # Approve, then send now: a confirmation first, with the audience.
        page.get_by_role("button", name="Approve this version").click()
        landed_on(page, "decision", f"Approved by {EDITOR}")
        expect(page.locator("#warnings-h")).to_have_text("Check before it is sent")
        page.get_by_role("link", name="Send now…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Send Autumn 2017 now?")
        expect(page.locator("main")).to_contain_text("3 confirmed subscribers")
        expect(page.locator("main")).to_contain_text("No scheduler is running right now")
        shot(page, "desk-03-send-confirmation-1280")
        page.get_by_role("button", name="Yes, send it to 3 subscribers now").click()
        expect(page.locator(".flashes")).to_contain_text("no scheduler is running to send it")
        expect(page.locator(".status-line .state")).to_have_text("Scheduled")

        # What the service's send job does, then the page reports the send.
        report = pipeline.send(
            draft.engine,
            config,
            draft.bulletin_id,
            actor="actwatch serve",
            env={config.web.secret_key_env: SECRET},
        )
        assert report.finished and report.sent == 3 and sink.total() == 3
        page.reload()
        expect(page.locator(".status-line .state")).to_have_text("Sent")
        delivery = page.locator("#delivery")
        expect(delivery).to_contain_text("Sent to 3 subscribers")
        main_text = page.locator("main").inner_text()
        assert "to be sent" not in main_text and "Check before" not in main_text
        assert "Goes to" not in main_text and "Send now" not in main_text
        shot(page, "desk-04-sent-with-report-1280")

        # The audit log: words and local times, no ISO stamps or Python values.
        page.goto(f"{server}/editor/bulletins/1/audit")
        audit = page.locator("main").inner_text()
        assert "Asked for it to be sent now." in audit
        assert "Finished sending: 3 messages sent." in audit
        assert f"Set the preview text to “{PREHEADER}”." in audit
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d", audit), audit
        assert not re.search(r"\b(True|False|None)\b", audit), audit
        shot(page, "desk-05-audit-1280")
        context.close()

    with draft.engine.connect() as connection:
        stored = connection.execute(select(bulletins).where(bulletins.c.id == 1)).one()
    assert stored.state == "sent" and stored.preheader == PREHEADER
    assert problems == [], "\n".join(sorted(set(problems)))


@pytest.mark.browser
def test_the_desk_on_a_phone(server: str, draft: Draft) -> None:
    problems: list[str] = []
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = watch(context.new_page(), problems)
        page.goto(f"{server}/editor/login")
        no_sideways_scroll(page, "the login page")
        log_in(page, server)
        no_sideways_scroll(page, "the dashboard")
        shot(page, "desk-06-dashboard-375")

        page.goto(f"{server}/editor/bulletins/1")
        no_sideways_scroll(page, "the bulletin page")
        shot(page, "desk-07-bulletin-375", full_page=False)
        target = deep_item(page)
        item = page.locator(f"#{target}")
        item.scroll_into_view_if_needed()
        item.locator("summary").click()
        item.get_by_label("Summary").fill("Phone-sized summary.")
        item.get_by_role("button", name="Save summary").click()
        landed_on(page, target, "Saved the summary for item")
        shot(page, "desk-08-landed-375", full_page=False)
        page.locator(".flash-close").first.click()
        expect(page.locator(".flashes .flash")).to_have_count(0)

        page.get_by_role("button", name="Approve this version").click()
        landed_on(page, "decision", "Approved by")
        page.get_by_role("link", name="Send now…").click()
        no_sideways_scroll(page, "the send confirmation")
        shot(page, "desk-09-send-confirmation-375")
        page.goto(f"{server}/editor/bulletins/1/audit")
        no_sideways_scroll(page, "the audit log")
        shot(page, "desk-10-audit-375")
        page.goto(f"{server}/editor/audit")
        no_sideways_scroll(page, "the whole audit log")
        page.goto(f"{server}/editor/bulletins/99")
        no_sideways_scroll(page, "the not-found page")
        problems[:] = [p for p in problems if "404 (Not Found)" not in p]  # that one was asked for
        context.close()
    assert problems == [], "\n".join(sorted(set(problems)))


@pytest.mark.browser
@pytest.mark.parametrize("width", ["1280", "375"])
def test_the_subscribers_screen(server: str, draft: Draft, tmp_path: Path, width: str) -> None:
    problems: list[str] = []
    upload = tmp_path / "new members.csv"
    upload.write_text(
        "email,name,strands\n"
        "morgan@council.example.gov.uk,Morgan,care-leavers\n"
        "not an address,Nobody,\n"
        "all@example.org,Alex again,\n",
        encoding="utf-8",
    )
    with chromium() as browser:
        viewport = PHONE if width == "375" else DESKTOP
        context = browser.new_context(viewport=viewport, is_mobile=width == "375")
        page = watch(context.new_page(), problems)
        log_in(page, server)
        page.get_by_role("link", name="Subscribers", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Subscribers")
        expect(page.locator("main")).to_contain_text("Showing 1–3 of 3, by address.")
        no_sideways_scroll(page, "the subscribers screen")
        shot(page, f"desk-11-subscribers-{width}")

        # Add one by hand, with one strand: the list shows them, with the message in view.
        page.get_by_label("Email address").fill("Robin.Reader@Example.org")
        page.get_by_label("Name (optional)").fill("Robin Reader")
        page.get_by_label("Care leavers").check()
        assert page.get_by_label("Care leavers").bounding_box()["width"] < 40  # type: ignore[index]
        page.get_by_role("button", name="Add the subscriber").click()
        expect(page.locator(".flashes")).to_contain_text(
            "robin.reader@example.org is added as a confirmed subscriber"
        )
        row = page.locator("tr", has_text="robin.reader@example.org")
        expect(row).to_contain_text("Care leavers")
        expect(row).to_contain_text("Confirmed")
        assert in_view(page, ".flashes .flash")

        # Find someone and unsubscribe them, after a second step.
        page.get_by_label("Address or name").fill("leavers")
        page.get_by_role("button", name="Find").click()
        row = page.locator("tr", has_text="leavers@example.org")
        expect(page.locator("td.address")).to_have_count(1)
        row.locator("summary").click()
        row.get_by_role("button", name="Unsubscribe leavers@example.org").click()
        expect(page.locator(".flashes")).to_contain_text(
            "leavers@example.org is unsubscribed: nothing more is sent to them."
        )
        expect(page.locator("tr", has_text="leavers@example.org")).to_contain_text("Unsubscribed")

        # Import a file: the report lists each rejected row with its line.
        page.locator("#import-file").set_input_files(str(upload))
        page.get_by_role("button", name="Import", exact=True).click()
        report = page.locator("#import-report")
        expect(report).to_contain_text("Imported new members.csv")
        expect(report).to_contain_text("1 added")
        expect(report).to_contain_text("1 already subscribed")
        expect(report.locator("table.rejected tr", has_text="not an address")).to_contain_text("3")
        expect(page).to_have_url(re.compile(r"/editor/subscribers$"))
        no_sideways_scroll(page, "the import report")
        shot(page, f"desk-12-subscribers-imported-{width}")

        # The export is a download, not a page.
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("^Export confirmed as CSV")).click()
        saved = tmp_path / "export.csv"
        download.value.save_as(saved)
        exported = saved.read_text(encoding="utf-8")
        assert "morgan@council.example.gov.uk" in exported
        assert "leavers@example.org" not in exported
        context.close()
    assert problems == [], "\n".join(sorted(set(problems)))
