"""Editorial review: nothing reaches subscribers unless an editor approved exactly that content.

- `states`: the state machine (draft -> in_review -> approved -> scheduled -> sending -> sent,
  rejected, withdrawn) and its errors;
- `workflow`: the transitions, each audited (approve freezes the rendered copies);
- `editing`: the editor's changes, with optimistic concurrency and approval reset;
- `freeze`: rendering for approval, the content hash, the frozen copy delivery reads (decoded
  with `decode_frozen`, which tolerates fields added to the bulletin model later);
- `view`: what an editor reviews (sections, queue, warnings), for the CLI and the web editor;
- `notify`: the draft-ready email; `testsend`: one copy to one address;
- `trail`: the audit trail in words;
- `records`: the bulletins table and the audit log (`bulletin_state`, `find_bulletin_id`,
  `send_problem` and `sends_to_watch` are the public questions other stages ask; `audit` and
  `note_send_problem`, why a send is held up, the public writes).
"""

from actwatch.review.editing import (
    Edit,
    Included,
    ManualItem,
    Picked,
    add_manual_item,
    bulletin_decisions,
    dismiss_uncertain,
    include_item,
    move_item,
    move_to_strand,
    pick_for_season,
    pick_uncertain,
    reorder,
    set_event_type,
    set_headline,
    set_included,
    set_intro,
    set_preheader,
    set_summary,
)
from actwatch.review.freeze import (
    FrozenBulletin,
    FrozenCopy,
    FrozenCopyError,
    Rendered,
    bulletin_from_context,
    content_hash,
    decode_frozen,
    encode_bulletin,
    frozen_copy,
    preview_copy,
    render_bulletin,
    render_for_approval,
)
from actwatch.review.notify import editor_link, notify_draft_ready
from actwatch.review.records import (
    SendProblem,
    audit,
    bulletin_state,
    find_bulletin_id,
    note_send_problem,
    send_problem,
    sends_to_watch,
)
from actwatch.review.states import (
    STATE_LABELS,
    TRANSITIONS,
    ConflictError,
    NotFoundError,
    ReviewError,
    StateError,
)
from actwatch.review.testsend import SentCopy, send_test_copy
from actwatch.review.trail import AuditEntry, audit_entries
from actwatch.review.view import ReviewView, audit_trail, build_review, review_with_preview
from actwatch.review.workflow import (
    Approval,
    approve,
    block_sending,
    finish_sending,
    open_for_sending,
    reject,
    reopen,
    resume_sending,
    schedule,
    send_now,
    start_sending,
    submit,
    unschedule,
    withdraw,
)

__all__ = [
    "STATE_LABELS",
    "TRANSITIONS",
    "Approval",
    "AuditEntry",
    "ConflictError",
    "Edit",
    "FrozenBulletin",
    "FrozenCopy",
    "FrozenCopyError",
    "Included",
    "ManualItem",
    "NotFoundError",
    "Picked",
    "Rendered",
    "ReviewError",
    "ReviewView",
    "SendProblem",
    "SentCopy",
    "StateError",
    "add_manual_item",
    "approve",
    "audit",
    "audit_entries",
    "audit_trail",
    "block_sending",
    "build_review",
    "bulletin_decisions",
    "bulletin_from_context",
    "bulletin_state",
    "content_hash",
    "decode_frozen",
    "dismiss_uncertain",
    "editor_link",
    "encode_bulletin",
    "find_bulletin_id",
    "finish_sending",
    "frozen_copy",
    "include_item",
    "move_item",
    "move_to_strand",
    "note_send_problem",
    "notify_draft_ready",
    "open_for_sending",
    "pick_for_season",
    "pick_uncertain",
    "preview_copy",
    "reject",
    "render_bulletin",
    "render_for_approval",
    "reopen",
    "reorder",
    "resume_sending",
    "review_with_preview",
    "schedule",
    "send_now",
    "send_problem",
    "send_test_copy",
    "sends_to_watch",
    "set_event_type",
    "set_headline",
    "set_included",
    "set_intro",
    "set_preheader",
    "set_summary",
    "start_sending",
    "submit",
    "unschedule",
    "withdraw",
]
