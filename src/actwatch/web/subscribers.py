"""The editor's subscribers screen: find people (by address or name, state and strand), add one
by hand, unsubscribe one, import a CSV file and export the list. Each step goes through the
subscribers stage (`subscribers/store.py`, `subscribers/imports.py`), with the same rules as
`actwatch subscribers`; the changes are in the audit log, by subscriber number (no address: an
erased person must not linger there)."""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actwatch import review
from actwatch.core.clock import utc
from actwatch.core.states import SubscriberStatus
from actwatch.subscribers import (
    ImportFileError,
    ImportReport,
    add_by_hand,
    export_csv,
    find_subscriber,
    get_subscriber,
    import_file,
)
from actwatch.subscribers.store import count_by_status, search_subscribers, unsubscribe
from actwatch.web.editor import _config, _sentence, back_to, render
from actwatch.web.session import editor_required, flash

PAGE_SIZE = 50
STATUSES = tuple(status.value for status in SubscriberStatus)
ACTIVE = (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED)
SCREEN = "/editor/subscribers"
# What an uploaded file may be called when it is kept as the import's evidence of consent.
SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def _filters(values: Any) -> dict[str, str]:
    """The list's filters from a query string or a form: only known values survive."""
    config_strand = str(values.get("strand", "") or "")
    status = str(values.get("status", "") or "")
    return {
        "q": str(values.get("q", "") or "").strip()[:200],
        "status": status if status in STATUSES else "",
        "strand": config_strand,
    }


def _page_number(values: Any) -> int:
    try:
        return max(1, int(str(values.get("page", "1"))))
    except ValueError:
        return 1


def _list_url(filters: dict[str, str], page: int = 1, anchor: str = "") -> str:
    query = {key: value for key, value in filters.items() if value}
    if page > 1:
        query["page"] = str(page)
    return SCREEN + (f"?{urlencode(query)}" if query else "") + anchor


@editor_required
async def screen(request: Request) -> Response:
    return await _screen(request, report=None)


async def _screen(
    request: Request, *, report: ImportReport | None, status_code: int = 200
) -> Response:
    config = _config(request)
    engine = request.app.state.engine
    filters = _filters(request.query_params)
    if filters["strand"] not in config.strands:
        filters["strand"] = ""
    page = _page_number(request.query_params)

    def load() -> dict[str, Any]:
        found = search_subscribers(
            engine,
            text=filters["q"],
            status=filters["status"] or None,
            strand=filters["strand"] or None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        return {"found": found, "counts": count_by_status(engine)}

    context = await run_in_threadpool(load)
    pages = max(1, math.ceil(context["found"].total / PAGE_SIZE))
    response = render(
        request,
        "subscribers.html",
        status=status_code,
        **context,
        filters=filters,
        page=page,
        pages=pages,
        page_size=PAGE_SIZE,
        statuses=STATUSES,
        active=ACTIVE,
        strands=config.strands,
        report=report,
        here=_list_url(filters, page),
        previous_url=_list_url(filters, page - 1, "#list") if page > 1 else None,
        next_url=_list_url(filters, page + 1, "#list") if page < pages else None,
        export_url="/editor/subscribers/export.csv"
        + (f"?{urlencode({'status': filters['status']})}" if filters["status"] else ""),
    )
    if report is not None:
        # The report answers a POST; the address bar shows the list, which a reload shows again.
        response.headers["HX-Replace-Url"] = SCREEN
    return response


def _back(form: Any) -> str:
    """The list view a form came from, rebuilt from known filters only."""
    return _list_url(_filters(form), _page_number(form))


@editor_required
async def add(request: Request) -> Response:
    config = _config(request)
    engine = request.app.state.engine
    editor = request.state.editor
    form = await request.form()
    email = str(form.get("email", ""))
    chosen = [str(value) for value in form.getlist("strands")]

    def run() -> tuple[ImportReport, int | None]:
        report = add_by_hand(
            engine,
            config,
            email=email,
            name=str(form.get("name", "")),
            strands=chosen,
            by=editor.name,
        )
        if report.rejected:
            return report, None
        found = find_subscriber(engine, email)
        subscriber_id = found.id if found is not None else None
        if report.added or report.confirmed:
            review.audit(
                engine,
                actor=editor.name,
                action="add_subscriber",
                bulletin_id=None,
                subscriber_id=subscriber_id,
                confirmed_pending=bool(report.confirmed),
            )
        return report, subscriber_id

    report, subscriber_id = await run_in_threadpool(run)
    if report.rejected:
        reason = report.rejected[0].reason
        flash(
            request,
            "error",
            _sentence(f"could not add {email.strip() or 'an empty address'}: {reason}"),
        )
        return back_to(request, SCREEN + "#add")
    if report.added:
        said = "is added as a confirmed subscriber (you hold their consent)"
    elif report.confirmed:
        said = "had signed up on the web without confirming: now confirmed"
    else:
        said = "was already subscribed: their own choices are kept"
    address = email.strip().lower()
    flash(request, "success", f"{address} {said}.")
    anchor = f"#sub-{subscriber_id}" if subscriber_id is not None else "#list"
    return back_to(request, _list_url({"q": address, "status": "", "strand": ""}, 1, anchor))


@editor_required
async def remove(request: Request) -> Response:
    engine = request.app.state.engine
    editor = request.state.editor
    subscriber_id: int = request.path_params["subscriber_id"]
    form = await request.form()
    back = _back(form)

    def run() -> tuple[str | None, bool]:
        found = get_subscriber(engine, subscriber_id)
        if found is None:
            return None, False
        changed = unsubscribe(engine, subscriber_id)
        if changed:
            review.audit(
                engine,
                actor=editor.name,
                action="remove_subscriber",
                bulletin_id=None,
                subscriber_id=subscriber_id,
            )
        return found.email, changed

    email, changed = await run_in_threadpool(run)
    if email is None:
        flash(request, "error", f"There is no subscriber {subscriber_id}.")
    elif changed:
        flash(request, "success", f"{email} is unsubscribed: nothing more is sent to them.")
    else:
        flash(request, "error", f"{email} was not subscribed: nothing changed.")
    return back_to(request, f"{back}#sub-{subscriber_id}")


@editor_required
async def import_upload(request: Request) -> Response:
    config = _config(request)
    engine = request.app.state.engine
    editor = request.state.editor
    # `async with`: the upload's spooled temporary file is closed once it has been read.
    async with request.form() as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            flash(request, "error", "Choose a CSV file to import.")
            return back_to(request, SCREEN + "#import")
        filename = upload.filename
        data = await upload.read()
    # The file's own name is the evidence of consent the import records (as on the command
    # line), so the upload is kept under that name, stripped of any path, while it is read.
    name = SAFE_NAME.sub("_", Path(filename.replace("\\", "/")).name).strip(" .")
    name = name[:100] or "upload.csv"

    def run() -> ImportReport:
        with tempfile.TemporaryDirectory(prefix="actwatch-import-") as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            report = import_file(engine, config, path)
        report.file = name
        review.audit(
            engine,
            actor=editor.name,
            action="import_subscribers",
            bulletin_id=None,
            file=name,
            rows=report.rows,
            added=report.added,
            confirmed=report.confirmed,
            unchanged=report.unchanged,
            rejected=len(report.rejected),
        )
        return report

    try:
        report = await run_in_threadpool(run)
    except ImportFileError as exc:
        flash(request, "error", _sentence(f"could not import {name}: {exc}"))
        return back_to(request, SCREEN + "#import")
    return await _screen(request, report=report)


@editor_required
async def export(request: Request) -> Response:
    engine = request.app.state.engine
    zone = _config(request).schedule.zone
    status = str(request.query_params.get("status", "confirmed") or "confirmed")
    if status not in (*STATUSES, "all"):
        status = "confirmed"
    text = await run_in_threadpool(
        lambda: export_csv(engine, status=None if status == "all" else status)
    )
    stamp = f"{utc().astimezone(zone):%Y-%m-%d}"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="subscribers-{status}-{stamp}.csv"'},
    )


def routes() -> list[Route]:
    post = ["POST"]
    return [
        Route("/subscribers", screen, name="subscribers"),
        Route("/subscribers/add", add, methods=post),
        Route("/subscribers/import", import_upload, methods=post),
        Route("/subscribers/export.csv", export),
        Route("/subscribers/{subscriber_id:int}/remove", remove, methods=post),
    ]
