"""Outgoing mail: building messages safely and handing them to a transport.

`build_message` makes a standards-conforming `EmailMessage` (text then HTML alternatives,
Message-ID on the sender's domain, header values that cannot carry a line break). A transport
from `open_transport(config)` delivers it: a local maildir, or SMTP with one connection kept open
for many messages.
"""

from actwatch.mail.message import (
    Address,
    build_message,
    clean_header,
    dkim_signature,
    list_headers,
    list_id_for,
)
from actwatch.mail.transport import (
    MaildirTransport,
    MailError,
    SMTPTransport,
    Transport,
    open_transport,
)

__all__ = [
    "Address",
    "MailError",
    "MaildirTransport",
    "SMTPTransport",
    "Transport",
    "build_message",
    "clean_header",
    "dkim_signature",
    "list_headers",
    "list_id_for",
    "open_transport",
]
