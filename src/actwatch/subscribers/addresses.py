"""Is this an email address we can send to? Checked offline: syntax only, never DNS.

The stdlib's `email.headerregistry.Address` parses the address (it rejects two @, stray spaces
and quotes in the wrong place); on top of that a deliverable address has a dotted domain made of
valid labels, no IP literal, and stays within the lengths RFC 5321 allows.
"""

from __future__ import annotations

import hashlib
import re
from email.errors import HeaderParseError
from email.headerregistry import Address

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


class AddressError(ValueError):
    """Why an address is not one we can send to."""


def normalise_email(raw: str) -> str:
    """The address in lower case, or AddressError saying what is wrong with it."""
    text = (raw or "").strip()
    if not text:
        raise AddressError("no email address")
    if any(ch.isspace() for ch in text) or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise AddressError("spaces or control characters in the address")
    if text.count("@") != 1:
        raise AddressError("an address needs exactly one @")
    if '"' in text or "(" in text:
        raise AddressError("quoted parts and comments are not supported in addresses")
    if not text.isascii():
        raise AddressError("non-ASCII characters (internationalised addresses are not supported)")
    try:
        parsed = Address(addr_spec=text)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise AddressError(f"not a valid address ({exc})") from None
    local, domain = parsed.username, parsed.domain.lower()
    if not local or not _LOCAL.match(local):
        raise AddressError("the part before the @ is not valid")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise AddressError("the part before the @ has a misplaced dot")
    if len(local) > 64:
        raise AddressError("the part before the @ is longer than 64 characters")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise AddressError(f"the domain {domain!r} is not valid")
    if not _TLD.match(labels[-1]):
        raise AddressError(f"the domain {domain!r} has no valid top-level domain")
    if len(domain) > 253:
        raise AddressError("the domain is too long")
    address = f"{local}@{domain}".lower()
    if len(address) > 254:
        raise AddressError("the address is longer than 254 characters")
    return address


def email_digest(email: str) -> str:
    """What an erased subscriber leaves behind: enough to refuse an import, nothing readable."""
    return "erased:" + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
