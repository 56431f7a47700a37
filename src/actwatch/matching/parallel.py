"""Classify large batches on every core, in worker processes the caller already has running.

A cold poll brings thousands of items at once, and classifying them on one core took as long as
the whole pass before it. The poll's parse workers sit idle once the pass is over, so the
verdicts are worked out there: a batch is cut into one chunk per worker, and the results come
back in order. Small batches (a poll that brought a handful of items) stay in this process,
where shipping the matcher would cost more than it saves.

The matcher travels pickled with every chunk (a few hundred KB: the compiled rules and the
learned weights) because a pool gives no way to reach one worker in particular; each worker
unpickles it once per fingerprint. Items go out as the database's columns (the worker turns
their HTML into text) and verdicts come back as they will be stored, evidence as plain dicts,
which pickle several times faster than the objects they stand for. A chunk that fails in a
worker (a worker killed, a pool shut down under it) is classified here instead: a verdict is
the same wherever it is worked out.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from concurrent.futures import CancelledError, Executor, Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from actwatch.matching.classify import classify_many
from actwatch.matching.matcher import Matcher
from actwatch.matching.model import StoredText, VerdictToStore, item_text

log = logging.getLogger(__name__)

# What a worker needs to classify, for a forkserver to import before it forks the workers: this
# module, and the learned scorer's (NumPy), which a matcher with its scorer unpickles into.
# Named, not imported here: reading verdicts in this process must not load NumPy.
WORKER_MODULES = (__name__, "actwatch.matching.learned")

# Below this many items a batch is classified in this process: sending the matcher and the
# texts to the workers costs more than it saves.
MIN_PARALLEL_ITEMS = 200

_WORKER_MATCHERS: dict[str, Matcher] = {}  # in a worker: the matcher it last unpickled


def classify_chunk(
    fingerprint: str, pickled_matcher: bytes, rows: list[tuple[Any, ...]]
) -> list[VerdictToStore]:
    """Runs in a worker process: stored items' columns in, verdicts out as they are stored."""
    matcher = _WORKER_MATCHERS.get(fingerprint)
    if matcher is None:
        # Pickled by the parent process a moment ago, never by anyone outside.
        matcher = pickle.loads(pickled_matcher)  # noqa: S301
        # One matcher at a time: rules edited between passes make the old one useless.
        _WORKER_MATCHERS.clear()
        _WORKER_MATCHERS[fingerprint] = matcher
    return verdicts_on(matcher, [StoredText._make(row) for row in rows])


def verdicts_on(matcher: Matcher, rows: Sequence[StoredText]) -> list[VerdictToStore]:
    """Stored items' verdicts, worked out in this process."""
    texts = [item_text(row) for row in rows]
    return [result.to_store() for result in classify_many(matcher, texts)]


class PendingVerdicts:
    """The verdicts on one batch, being worked out in the workers (or already known)."""

    def __init__(
        self,
        classifier: BatchClassifier,
        futures: Sequence[tuple[Sequence[StoredText], Future[list[VerdictToStore]] | None]] = (),
        done: list[VerdictToStore] | None = None,
    ) -> None:
        self._classifier = classifier
        self._futures = futures
        self._done = done

    def result(self) -> list[VerdictToStore]:
        if self._done is None:
            done: list[VerdictToStore] = []
            for chunk, future in self._futures:
                done.extend(self._classifier.chunk_result(chunk, future))
            self._done = done
        return self._done

    def cancel(self) -> None:
        for _, future in self._futures:
            if future is not None:
                future.cancel()


class BatchClassifier:
    """`classify_many(matcher, items)` for stored items, over `executor`'s workers when it pays."""

    def __init__(
        self, matcher: Matcher, executor: Executor | None = None, workers: int = 1
    ) -> None:
        self.matcher = matcher
        self.executor = executor
        self.workers = max(workers, 1)
        self._pickled: bytes | None = None

    def submit(self, rows: Sequence[StoredText]) -> PendingVerdicts:
        """Start classifying `rows`; the verdicts come from the result's `result()`."""
        # Once the workers have the matcher, even a short batch (the last of a run) is cheaper
        # there than here, where it would hold up storing the batches before it.
        if (
            self.executor is None
            or self.workers < 2
            or (len(rows) < MIN_PARALLEL_ITEMS and self._pickled is None)
        ):
            return PendingVerdicts(self, done=self.here(rows))
        if self._pickled is None:
            self._pickled = pickle.dumps(self.matcher, protocol=pickle.HIGHEST_PROTOCOL)
        fingerprint = self.matcher.fingerprint
        size = -(-len(rows) // self.workers)
        futures: list[tuple[Sequence[StoredText], Future[list[VerdictToStore]] | None]] = []
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            future: Future[list[VerdictToStore]] | None
            try:
                future = self.executor.submit(
                    classify_chunk,
                    fingerprint,
                    self._pickled,
                    [tuple(row) for row in chunk],
                )
            except (BrokenProcessPool, RuntimeError):  # RuntimeError: the pool was shut down
                future = None
            futures.append((chunk, future))
        return PendingVerdicts(self, futures)

    def here(self, rows: Sequence[StoredText]) -> list[VerdictToStore]:
        return verdicts_on(self.matcher, rows)

    def chunk_result(
        self, chunk: Sequence[StoredText], future: Future[list[VerdictToStore]] | None
    ) -> list[VerdictToStore]:
        if future is not None:
            try:
                return future.result()
            except (BrokenProcessPool, CancelledError, RuntimeError, OSError) as exc:
                log.warning("a classification worker failed (%s); classifying here instead", exc)
        # Whatever befell the worker, the items still get their verdicts, and the next batches
        # stay in this process.
        self.executor = None
        return self.here(chunk)
