"""Is this an email address we can send to? One answer for every place that asks: the config's
addresses, CSV imports, the sign-up and "email me my links" forms, test sends.

The `email-validator` package does the checking, offline: syntax, lengths, special-use domains
(`.invalid`, `.test`, `localhost`); never a DNS lookup, so an address is judged the same way on
a closed network as on an open one. Internationalised domains are converted to their ASCII form
(`xn--`); a non-ASCII part before the @ needs SMTPUTF8, which not every relay offers, so it is
refused rather than bounced later.
"""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email

# RFC 5321's limit on a path; email-validator enforces the same, the check here is for input that
# should not even reach it (a pasted paragraph).
MAX_LENGTH = 254


class EmailError(ValueError):
    """Why an address is not one we can send to."""


def check_email(raw: str) -> str:
    """The address as mail should be sent to it: the domain in lower-case ASCII, the part before
    the @ as written. Raises EmailError saying what is wrong."""
    text = (raw or "").strip()
    if not text:
        raise EmailError("no email address")
    if len(text) > MAX_LENGTH * 2:
        raise EmailError(f"the address is longer than {MAX_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise EmailError("spaces or control characters in the address")
    if text.count("@") != 1:
        raise EmailError("an address needs exactly one @")
    if "=?" in text or "?=" in text:
        # Legal in a local part, but mail programs decode it as an RFC 2047 encoded word
        # (`=?utf-8?q?=0D=0A?=` is a line break): no real mailbox needs it.
        raise EmailError("'=?' or '?=' in the address (read as an encoded word)")
    try:
        checked = validate_email(
            text,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as exc:
        raise EmailError(_reason(str(exc))) from None
    address = checked.ascii_email or checked.normalized
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalise_email(raw: str) -> str:
    """The address as a key: `check_email`'s answer in lower case, so that `Jo@X.org` and
    `jo@x.org` are one subscriber (every real mail host treats them as one mailbox)."""
    return check_email(raw).lower()


def is_email(raw: str) -> bool:
    try:
        check_email(raw)
    except EmailError:
        return False
    return True


def email_digest(email: str) -> str:
    """What an erased subscriber leaves behind: enough to refuse an import, nothing readable."""
    return "erased:" + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def _reason(message: str) -> str:
    # email-validator's sentences end with a full stop and start with a capital; ours are
    # clauses that callers put after "line 4: " or "mail.from: ".
    message = message.strip().rstrip(".")
    return message[:1].lower() + message[1:]
