"""What a mail fault means, and so what a send does about it.

| fault                                                   | kind       | reaction                |
|---------------------------------------------------------|------------|-------------------------|
| refused, timeout, 421 anywhere, 4xx at connect or MAIL  | SERVER     | pause the whole send    |
| connection lost before the message went (at RCPT)       | SERVER     | pause, nothing was sent |
| the login refused (a wrong password)                    | SETUP      | stop at once            |
| 4xx at RCPT or after DATA                               | DEFERRED   | retry that reader later |
| 5xx at RCPT                                             | BOUNCE     | suppress that address   |
| 5xx at MAIL FROM or DATA                                | REJECTED   | block the bulletin      |
| connection lost after DATA, before the reply            | UNKNOWN    | send again (default)    |

A server-level fault costs no reader an attempt: the message was never looked at. Only a 5xx at
RCPT says anything about an address; a 5xx at MAIL or DATA says the *message* (or the relay's
setup) is refused, which is the same for every reader, so nobody is marked bounced for it.
"""

from __future__ import annotations

from enum import StrEnum

from actwatch.mail import MailError


class Fault(StrEnum):
    SERVER = "server"
    SETUP = "setup"
    DEFERRED = "deferred"
    BOUNCE = "bounce"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


def classify(error: MailError) -> Fault:
    code, stage = error.code, error.stage
    if code == 421:  # "service not available, closing channel", whatever the step
        return Fault.SERVER
    if stage == "data":
        if code is None:
            return Fault.UNKNOWN
        return Fault.REJECTED if code >= 500 else Fault.DEFERRED
    if stage == "recipient":
        if code is None:
            return Fault.SERVER  # dropped before the message was sent
        return Fault.BOUNCE if code >= 500 else Fault.DEFERRED
    if stage == "sender":
        if code is not None and code >= 500:
            return Fault.REJECTED
        return Fault.SERVER
    if stage == "connect" and error.permanent:
        return Fault.SETUP
    # connect (refused, timed out, a 4xx or 5xx greeting), or a transport that cannot say
    return Fault.SERVER
