"""The subscribers screen through Starlette's test client, on SQLite and PostgreSQL: finding
people (address or name, state, strand, pages), adding one by hand, unsubscribing one, importing
a CSV file with its report, exporting the list; every change audited by number."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from actwatch.db.schema import audit_log
from actwatch.subscribers import find_subscriber, import_file, sign_up
from tests.review.conftest import Draft

Client = tuple[TestClient, str]


def people(n: int) -> str:
    rows = ["email,name,strands"]
    for i in range(n):
        strands = "care-leavers" if i % 3 == 0 else ""
        rows.append(f"reader{i:03d}@example.org,Reader {i:03d},{strands}")
    rows.append("lee.leavers@example.org,Lee Leavers,care-leavers;safeguarding-partnerships")
    return "\n".join(rows) + "\n"


def imported(draft: Draft, tmp_path: Path, text: str, name: str = "readers.csv") -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    report = import_file(draft.engine, draft.config, path)
    assert not report.rejected, report.rejected


def shown(page: str) -> list[str]:
    return re.findall(r'<td class="address">([^<]+)</td>', page)


def messages(client: TestClient) -> list[str]:
    page = client.get("/editor/subscribers").text
    return [html.unescape(m) for m in re.findall(r'<span class="flash-text">([^<]*)</span>', page)]


def audit_actions(draft: Draft) -> list[tuple[str, dict[str, Any]]]:
    with draft.engine.connect() as connection:
        return [
            (row.action, row.detail)
            for row in connection.execute(
                select(audit_log).where(audit_log.c.bulletin_id.is_(None)).order_by(audit_log.c.id)
            )
        ]


def test_finding_people_by_text_state_strand_and_page(
    editor_client: Client, draft: Draft, tmp_path: Path
) -> None:
    client, _ = editor_client
    imported(draft, tmp_path, people(60))
    page = client.get("/editor/subscribers").text
    assert "Showing 1–50 of 61, by address." in page
    assert len(shown(page)) == 50 and shown(page)[0] == "lee.leavers@example.org"
    assert 'rel="next"' in page and "Page 1 of 2" in page
    page = client.get("/editor/subscribers?page=2").text
    assert len(shown(page)) == 11 and shown(page)[-1] == "reader059@example.org"
    # By address or name, any case; % and _ are plain characters, not wildcards.
    assert shown(client.get("/editor/subscribers?q=LEAVERS").text) == ["lee.leavers@example.org"]
    assert shown(client.get("/editor/subscribers?q=Reader 05").text) == [
        f"reader05{i}@example.org" for i in range(10)
    ]
    assert shown(client.get("/editor/subscribers?q=%25").text) == []
    assert shown(client.get("/editor/subscribers?q=reader_0").text) == []
    # Those who get a strand: who chose it, and who get every strand.
    page = client.get("/editor/subscribers?strand=safeguarding-partnerships").text
    assert "of 41," in page  # 40 with every strand + Lee
    page = client.get("/editor/subscribers?strand=care-leavers&q=reader00").text
    assert shown(page) == [f"reader00{i}@example.org" for i in range(10)]
    # Unknown filters are ignored, not errors.
    page = client.get("/editor/subscribers?status=nonsense&strand=nope&page=x").text
    assert "of 61," in page
    assert 'Confirmed <span class="count">61</span>' in page


def test_adding_someone_by_hand(editor_client: Client, draft: Draft, tmp_path: Path) -> None:
    client, token = editor_client
    response = client.post(
        "/editor/subscribers/add",
        data={
            "csrf_token": token,
            "email": " Sam.Safe@Example.ORG ",
            "name": "Sam Safe",
            "strands": ["safeguarding-partnerships"],
        },
    )
    assert response.status_code == 303
    found = find_subscriber(draft.engine, "sam.safe@example.org")
    assert found is not None and found.status == "confirmed" and found.name == "Sam Safe"
    assert found.strands == ("safeguarding-partnerships",) and not found.all_strands
    assert found.consent_source.startswith("added by Jo Broad at ")
    assert response.headers["location"] == (
        f"/editor/subscribers?q=sam.safe%40example.org#sub-{found.id}"
    )
    assert messages(client) == [
        "sam.safe@example.org is added as a confirmed subscriber (you hold their consent)."
    ]
    assert audit_actions(draft)[-1] == (
        "add_subscriber",
        {"subscriber_id": found.id, "confirmed_pending": False},
    )
    # Again: nothing changes. A bad address or strand, or someone who left: refused, and why.
    client.post(
        "/editor/subscribers/add", data={"csrf_token": token, "email": "sam.safe@example.org"}
    )
    assert "was already subscribed" in messages(client)[0]
    client.post("/editor/subscribers/add", data={"csrf_token": token, "email": "not an address"})
    assert messages(client)[0].startswith("Could not add not an address:")
    client.post(
        "/editor/subscribers/add",
        data={"csrf_token": token, "email": "x@example.org", "strands": ["nope"]},
    )
    assert "unknown strand 'nope'" in messages(client)[0]
    client.post(f"/editor/subscribers/{found.id}/remove", data={"csrf_token": token})
    client.get("/editor/subscribers")
    client.post(
        "/editor/subscribers/add", data={"csrf_token": token, "email": "sam.safe@example.org"}
    )
    assert "unsubscribed on" in messages(client)[0]
    assert find_subscriber(draft.engine, "sam.safe@example.org").status == "unsubscribed"  # type: ignore[union-attr]
    # Someone who signed up on the web and never confirmed: the editor's word confirms them.
    sign_up(draft.engine, draft.config, "pat@example.org", name="Pat", strands=(), source="web")
    client.post("/editor/subscribers/add", data={"csrf_token": token, "email": "pat@example.org"})
    assert "now confirmed" in messages(client)[0]
    assert find_subscriber(draft.engine, "pat@example.org").status == "confirmed"  # type: ignore[union-attr]


def test_unsubscribing_someone(editor_client: Client, draft: Draft, tmp_path: Path) -> None:
    client, token = editor_client
    imported(draft, tmp_path, people(3))
    lee = find_subscriber(draft.engine, "lee.leavers@example.org")
    assert lee is not None
    page = client.get("/editor/subscribers?q=lee").text
    assert f'action="/editor/subscribers/{lee.id}/remove"' in page
    response = client.post(
        f"/editor/subscribers/{lee.id}/remove",
        data={"csrf_token": token, "q": "lee", "status": "confirmed", "page": "1"},
    )
    assert (
        response.headers["location"] == f"/editor/subscribers?q=lee&status=confirmed#sub-{lee.id}"
    )
    assert messages(client) == [
        "lee.leavers@example.org is unsubscribed: nothing more is sent to them."
    ]
    assert find_subscriber(draft.engine, lee.email).status == "unsubscribed"  # type: ignore[union-attr]
    assert audit_actions(draft)[-1] == ("remove_subscriber", {"subscriber_id": lee.id})
    client.post(f"/editor/subscribers/{lee.id}/remove", data={"csrf_token": token})
    assert messages(client) == ["lee.leavers@example.org was not subscribed: nothing changed."]
    client.post("/editor/subscribers/99999/remove", data={"csrf_token": token})
    assert messages(client) == ["There is no subscriber 99999."]
    # Nobody's address is in the audit log.
    assert "lee.leavers" not in str(audit_actions(draft))


def test_importing_a_file_shows_every_rejected_row(editor_client: Client, draft: Draft) -> None:
    client, token = editor_client
    upload = (
        "email,name,strands\n"
        "ann@example.org,Ann,\n"
        "not-an-address,Bob,\n"
        "cat@example.org,Cat,no-such-strand\n"
        "ann@example.org,Ann again,\n"
        "dan@example.org,Dan,care-leavers\n"
    )
    response = client.post(
        "/editor/subscribers/import",
        data={"csrf_token": token},
        files={"file": ("../../etc/Members list.csv", upload.encode(), "text/csv")},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.headers["HX-Replace-Url"] == "/editor/subscribers"
    page = response.text
    assert "Imported Members list.csv" in page
    assert "<strong>2 added</strong>" in page and "<strong>3 rejected</strong>" in page
    assert "“import:Members list.csv at " in page
    lines = re.findall(r'<tr><td class="num">(\d+)</td>', page)
    assert lines == ["3", "4", "5"]
    assert "duplicate of line 2" in page and "no-such-strand" in page
    assert find_subscriber(draft.engine, "dan@example.org") is not None
    action, detail = audit_actions(draft)[-1]
    assert action == "import_subscribers" and detail["file"] == "Members list.csv"
    assert (detail["added"], detail["rejected"]) == (2, 3)
    # The same file again changes nothing.
    again = client.post(
        "/editor/subscribers/import",
        data={"csrf_token": token},
        files={"file": ("members.csv", upload.encode(), "text/csv")},
    ).text
    assert "<strong>0 added</strong>" in again and "2 already subscribed" in again
    # A file that is not an import at all, and no file.
    response = client.post(
        "/editor/subscribers/import",
        data={"csrf_token": token},
        files={"file": ("photo.csv", b"just,some,columns\n1,2,3\n", "text/csv")},
    )
    assert response.status_code == 303 and response.headers["location"].endswith("#import")
    assert messages(client)[0].startswith("Could not import photo.csv: ")
    client.post("/editor/subscribers/import", data={"csrf_token": token})
    assert messages(client) == ["Choose a CSV file to import."]


def test_exporting_the_list(editor_client: Client, draft: Draft, tmp_path: Path) -> None:
    client, token = editor_client
    imported(draft, tmp_path, people(2))
    lee = find_subscriber(draft.engine, "lee.leavers@example.org")
    assert lee is not None
    client.post(f"/editor/subscribers/{lee.id}/remove", data={"csrf_token": token})
    before = audit_actions(draft)
    response = client.get("/editor/subscribers/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="subscribers-confirmed-\d{4}-\d\d-\d\d\.csv"',
        response.headers["content-disposition"],
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["email"] for row in rows] == ["reader000@example.org", "reader001@example.org"]
    everyone = list(
        csv.DictReader(io.StringIO(client.get("/editor/subscribers/export.csv?status=all").text))
    )
    assert len(everyone) == 3
    left = client.get("/editor/subscribers/export.csv?status=unsubscribed").text
    assert "lee.leavers@example.org" in left and "reader000" not in left
    assert audit_actions(draft) == before  # looking changes nothing
    page = client.get("/editor/subscribers?status=unsubscribed").text
    assert 'href="/editor/subscribers/export.csv?status=unsubscribed"' in page
    assert 'hx-boost="false"' in page
