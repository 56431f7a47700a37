"""The review state machine: which action moves a bulletin from which states to which.

    draft -> in_review -> approved -> scheduled -> sending -> sent
                                                  sending <-> blocked (the server rejects the
                                                  message; the operator resumes it)
    draft / in_review -> rejected;  draft ... scheduled -> withdrawn;  both -> (reopen) in_review

An edit in `approved` or `scheduled` returns the bulletin to `in_review` and discards the
approval (`reset_approval`). Nothing changes the content of a bulletin that is `sending`,
`blocked` or `sent`.
"""

from __future__ import annotations

from dataclasses import dataclass

from actwatch.core.states import BulletinState

DRAFT = BulletinState.DRAFT
IN_REVIEW = BulletinState.IN_REVIEW
APPROVED = BulletinState.APPROVED
SCHEDULED = BulletinState.SCHEDULED
SENDING = BulletinState.SENDING
BLOCKED = BulletinState.BLOCKED
SENT = BulletinState.SENT
REJECTED = BulletinState.REJECTED
WITHDRAWN = BulletinState.WITHDRAWN

# Still on its way to subscribers (the service's status lists these).
ACTIVE = frozenset({DRAFT, IN_REVIEW, APPROVED, SCHEDULED, SENDING, BLOCKED})
# Content may change in these states (approved and scheduled lose their approval).
EDITABLE = frozenset({DRAFT, IN_REVIEW, APPROVED, SCHEDULED})
APPROVAL_HELD = frozenset({APPROVED, SCHEDULED, SENDING, BLOCKED, SENT})
LOCKED = frozenset({SENDING, BLOCKED, SENT})
CLOSED = frozenset({REJECTED, WITHDRAWN})

STATE_LABELS: dict[str, str] = {
    DRAFT: "Draft",
    IN_REVIEW: "In review",
    APPROVED: "Approved",
    SCHEDULED: "Scheduled",
    SENDING: "Sending",
    BLOCKED: "Blocked",
    SENT: "Sent",
    REJECTED: "Rejected",
    WITHDRAWN: "Withdrawn",
}


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    label: str


TRANSITIONS = {
    t.action: t
    for t in (
        Transition("submit", frozenset({DRAFT}), IN_REVIEW, "submit for review"),
        Transition("approve", frozenset({IN_REVIEW}), APPROVED, "approve"),
        Transition("schedule", frozenset({APPROVED, SCHEDULED}), SCHEDULED, "schedule"),
        Transition("unschedule", frozenset({SCHEDULED}), APPROVED, "unschedule"),
        # Send at once: scheduled for now, so the service's next check starts it.
        Transition("send_now", frozenset({APPROVED, SCHEDULED}), SCHEDULED, "send now"),
        # An approved bulletin may also be sent at once (`actwatch send`), without a schedule.
        Transition("start_sending", frozenset({APPROVED, SCHEDULED}), SENDING, "start sending"),
        Transition("finish_sending", frozenset({SENDING}), SENT, "mark as sent"),
        # The server refused the message itself: nobody more is mailed until someone looks.
        Transition("block", frozenset({SENDING}), BLOCKED, "block"),
        Transition("resume_sending", frozenset({BLOCKED}), SENDING, "resume sending"),
        Transition("reject", frozenset({DRAFT, IN_REVIEW}), REJECTED, "reject"),
        Transition(
            "withdraw", frozenset({DRAFT, IN_REVIEW, APPROVED, SCHEDULED}), WITHDRAWN, "withdraw"
        ),
        Transition("reopen", frozenset({REJECTED, WITHDRAWN}), IN_REVIEW, "reopen"),
        Transition("reset_approval", frozenset({APPROVED, SCHEDULED}), IN_REVIEW, "edit"),
    )
}


class ReviewError(Exception):
    """A review step that cannot go ahead, with a reason an editor can act on."""


class NotFoundError(ReviewError):
    pass


class StateError(ReviewError):
    """The bulletin's state does not allow this step."""


class ConflictError(ReviewError):
    """Someone else changed the bulletin since the caller looked at it."""


def allowed(action: str, state: str) -> bool:
    return state in TRANSITIONS[action].sources


def actions_from(state: str) -> list[str]:
    """What can be done next from `state` (for the editor's buttons and `actwatch review`)."""
    found = [
        action
        for action, transition in TRANSITIONS.items()
        if state in transition.sources and action != "reset_approval"
    ]
    if state == DRAFT:
        found.insert(1, "approve")  # approving a draft submits it for review on the way
    return found


def check(action: str, state: str) -> Transition:
    transition = TRANSITIONS[action]
    if state not in transition.sources:
        sources = " or ".join(sorted(STATE_LABELS[s].lower() for s in transition.sources))
        raise StateError(
            f"cannot {transition.label} a bulletin that is {STATE_LABELS[state].lower()} "
            f"(only when {sources})"
        )
    return transition
