"""Address checks live in `actwatch.core.emails`; these names stay for existing imports."""

from actwatch.core.emails import EmailError as AddressError
from actwatch.core.emails import email_digest, normalise_email

__all__ = ["AddressError", "email_digest", "normalise_email"]
