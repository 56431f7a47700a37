"""The bulletin page shows delivery's own report: the audience before the send, the counts
after, and a blocked or overdue send in red (the same report `actwatch deliveries` prints)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.testclient import TestClient

from actwatch.config import Config
from actwatch.delivery import send_bulletin
from actwatch.mail import MailError
from actwatch.review import approve, schedule
from actwatch.subscribers import import_file
from tests.review.conftest import Draft
from tests.web.conftest import SECRET

READERS = "email,name,strands\n" + "".join(f"w{i}@example.org,,\n" for i in range(5))


class Refusing:
    """A relay that refuses the message itself: 554 after DATA."""

    def send_raw(
        self, sender: str, recipient: str, data: bytes, *, dot_stuffed: bool = False
    ) -> None:
        raise MailError(
            "the SMTP server refused the message: 554 5.7.1 spam",
            code=554,
            stage="data",
            permanent=True,
        )

    def close(self) -> None:
        """Nothing to close."""


def _ready(draft: Draft, config: Config, tmp_path: Path) -> None:
    approve(draft.engine, config, draft.bulletin_id, by="Jo Broad")
    source = tmp_path / "readers.csv"
    source.write_text(READERS, encoding="utf-8")
    import_file(draft.engine, config, source)


def _page(client: TestClient, draft: Draft) -> str:
    response = client.get(f"/editor/bulletins/{draft.bulletin_id}")
    assert response.status_code == 200
    return response.text


def test_audience_before_and_counts_after(
    editor_client: tuple[TestClient, str], draft: Draft, config: Config, tmp_path: Path
) -> None:
    client, _ = editor_client
    _ready(draft, config, tmp_path)
    before = _page(client, draft)
    assert "Goes to <strong>5 confirmed subscribers</strong>" in before
    assert 'id="delivery"' not in before
    env = {config.web.secret_key_env: SECRET}
    assert send_bulletin(draft.engine, config, draft.bulletin_id, env=env).complete
    after = _page(client, draft)
    assert "Sent to 5 subscribers" in after and 'class="delivery-problem"' not in after


def test_a_blocked_send_shows_in_red_with_the_servers_reply(
    editor_client: tuple[TestClient, str], draft: Draft, config: Config, tmp_path: Path
) -> None:
    client, _ = editor_client
    _ready(draft, config, tmp_path)
    env = {config.web.secret_key_env: SECRET}
    report = send_bulletin(
        draft.engine, config, draft.bulletin_id, env=env, transport_factory=Refusing
    )
    assert report.blocked is not None
    page = _page(client, draft)
    assert 'class="delivery-problem"' in page and "Blocked" in page
    assert "554 5.7.1 spam" in page
    assert "5 wait until the operator sends it again" in page


def test_an_overdue_scheduled_send_shows_in_red(
    editor_client: tuple[TestClient, str], draft: Draft, config: Config, tmp_path: Path
) -> None:
    client, _ = editor_client
    _ready(draft, config, tmp_path)
    past = datetime.now(UTC) - timedelta(hours=2)
    schedule(
        draft.engine, draft.bulletin_id, actor="Jo Broad", at=past, now=past - timedelta(hours=1)
    )
    page = _page(client, draft)
    assert 'class="delivery-problem"' in page and "Overdue" in page
