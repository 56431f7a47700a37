"""Sample feeds bundled with actwatch (the data files beside this module; see README.md there)
and a local server for them, used by the offline demo, the tests and the benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.resources.abc import Traversable

from actwatch.demo.samples.server import CONTENT_TYPES, Document, FeedServer, running

SAMPLE_TITLES = {
    "gov-uk-dfe": "GOV.UK (DfE)",
    "gov-uk-search-childrens-social-care": "GOV.UK",
    "legislation-cswa-2017": "legislation.gov.uk",
    "legislation-new-uksi": "legislation.gov.uk",
    "communitycare": "Community Care",
    "cypnow": "CYP Now",
    "whatworks": "What Works Centre",
}


def sample_files() -> list[Traversable]:
    """The bundled feed documents, in a stable order."""
    folder = resources.files(__name__)
    return sorted(
        (entry for entry in folder.iterdir() if _suffix(entry.name) in CONTENT_TYPES),
        key=lambda entry: entry.name,
    )


def _suffix(name: str) -> str:
    return name[name.rfind(".") :] if "." in name else ""


def _stem(name: str) -> str:
    return name[: name.rfind(".")] if "." in name else name


def sample_documents() -> dict[str, Document]:
    return {
        f"/{entry.name}": Document(entry.read_bytes(), CONTENT_TYPES[_suffix(entry.name)])
        for entry in sample_files()
    }


def sample_feed_configs(base_url: str) -> list[dict[str, str]]:
    """A `feeds:` config list for the bundled samples served at base_url."""
    base_url = base_url.rstrip("/")
    return [
        {
            "name": _stem(entry.name),
            "title": SAMPLE_TITLES.get(_stem(entry.name), _stem(entry.name)),
            "url": f"{base_url}/{entry.name}",
        }
        for entry in sample_files()
    ]


@contextmanager
def serve_samples() -> Iterator[str]:
    """Serve the bundled samples on 127.0.0.1 (a free port) and yield the base URL."""
    with running(FeedServer(sample_documents())) as server:
        yield server.base_url


__all__ = [
    "CONTENT_TYPES",
    "SAMPLE_TITLES",
    "Document",
    "FeedServer",
    "running",
    "sample_documents",
    "sample_feed_configs",
    "sample_files",
    "serve_samples",
]
