"""The public addresses a subscriber is sent to, built from `web.base_url` in one place."""

from __future__ import annotations

from dataclasses import dataclass

from actwatch.config import Config
from actwatch.mail import list_headers, list_id_for


@dataclass(frozen=True)
class PublicLinks:
    base: str

    @classmethod
    def from_config(cls, config: Config) -> PublicLinks:
        return cls(str(config.web.base_url).rstrip("/"))

    def unsubscribe(self, token: str) -> str:
        return f"{self.base}/unsubscribe/{token}"

    def preferences(self, token: str) -> str:
        return f"{self.base}/preferences/{token}"

    def confirm(self, token: str) -> str:
        return f"{self.base}/subscribe/confirm/{token}"

    @property
    def subscribe(self) -> str:
        return f"{self.base}/subscribe"

    @property
    def manage(self) -> str:
        return f"{self.base}/manage"

    @property
    def archive_index(self) -> str:
        return f"{self.base}/archive/"


def reader_headers(config: Config, token: str) -> dict[str, str]:
    """The list headers of a message to one subscriber: List-Id, one-click List-Unsubscribe
    (RFC 8058) with their own token, List-Archive."""
    links = PublicLinks.from_config(config)
    mailto = config.mail.unsubscribe_mailto
    return list_headers(
        list_id=list_id_for(config.mail.from_, config.mail.list_id),
        list_name=config.mail.from_name or config.act.short_name,
        unsubscribe_url=links.unsubscribe(token),
        unsubscribe_mailto=f"{mailto}?subject=unsubscribe-{token}" if mailto else None,
        archive_url=links.archive_index,
    )
