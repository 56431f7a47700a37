"""Subscribers: CSV imports, the web's double opt-in, preferences, unsubscribing, privacy.

- addresses are checked by `actwatch.core.emails`, the one validator;
- `store`: subscribers and their strand choices in the database;
- `imports`: CSV files in, every rejected row reported;
- `tokens`: signed link and confirmation tokens;
- `privacy`: one person's data exported or erased, and CSV export.
"""

from actwatch.core.emails import EmailError as AddressError
from actwatch.core.emails import normalise_email
from actwatch.subscribers.imports import (
    ImportFileError,
    ImportReport,
    Rejected,
    add_by_hand,
    import_file,
)
from actwatch.subscribers.privacy import erase, export_csv, person_data
from actwatch.subscribers.store import (
    SUPPRESSED,
    Confirmation,
    Subscriber,
    SubscriberError,
    confirm,
    find_subscriber,
    get_subscriber,
    list_subscribers,
    sign_up,
    update_preferences,
)
from actwatch.subscribers.tokens import (
    LINK_TOKEN_LENGTH,
    SecretMissing,
    TokenError,
    Tokens,
    secret_from_env,
)

__all__ = [
    "LINK_TOKEN_LENGTH",
    "SUPPRESSED",
    "AddressError",
    "Confirmation",
    "ImportFileError",
    "ImportReport",
    "Rejected",
    "SecretMissing",
    "Subscriber",
    "SubscriberError",
    "TokenError",
    "Tokens",
    "add_by_hand",
    "confirm",
    "erase",
    "export_csv",
    "find_subscriber",
    "get_subscriber",
    "import_file",
    "list_subscribers",
    "normalise_email",
    "person_data",
    "secret_from_env",
    "sign_up",
    "update_preferences",
]
