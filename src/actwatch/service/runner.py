"""`actwatch serve`: the scheduler and the web app in one supervised process.

The main thread owns the signals and supervises: uvicorn runs in a thread of its own (so it
installs no signal handlers), the scheduler in its thread pool. On SIGTERM or SIGINT the service
takes no new work, uvicorn finishes its open requests, running jobs stop at their next checkpoint
(a send between two messages), and the process exits 0, well within systemd's TimeoutStopSec.
A second signal, or a job that will not stop within `SHUTDOWN_DEADLINE`, ends the process at
once: work in flight is then picked up by the next start like after a crash.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType

import uvicorn
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from actwatch.config import Config
from actwatch.core import clock
from actwatch.db import Engine
from actwatch.db.lock import SchedulerLock, scheduler_lock
from actwatch.service.jobs import Jobs
from actwatch.service.scheduler import build_scheduler

log = logging.getLogger("actwatch.service")
SHUTDOWN_DEADLINE = 9.0  # seconds from the signal to a forced exit
WEB_START_TIMEOUT = 15.0
STANDBY_POLL = 2.0
GRACEFUL_WEB_SHUTDOWN = 3  # seconds uvicorn gives open requests


class ServiceError(Exception):
    """The service cannot start as asked (the message is for the operator)."""


class AlreadyRunning(ServiceError):
    pass


@dataclass
class ServeOptions:
    web: bool = True
    scheduler: bool = True
    standby: bool = False
    host: str | None = None
    port: int | None = None


@dataclass
class ServiceInfo:
    """What the ops endpoints can ask the running process."""

    mode: str
    started_at: datetime = field(default_factory=clock.now)
    scheduler: BackgroundScheduler | None = None
    standby: bool = False

    @property
    def scheduler_running(self) -> bool | None:
        """None when this process runs no scheduler (`--web-only`)."""
        if self.mode == "web-only":
            return None
        return self.scheduler is not None and self.scheduler.running

    def wake(self, job_id: str) -> bool:
        """Run a periodic job now rather than at its next interval (the web editor's "send
        now"); False when this process runs no scheduler, or no such job."""
        scheduler = self.scheduler
        if scheduler is None or not scheduler.running:
            return False
        try:
            scheduler.modify_job(job_id, next_run_time=datetime.now(scheduler.timezone))
        except JobLookupError:
            return False
        return True


class _Server(uvicorn.Server):
    """uvicorn without signal handlers of its own: the service's main thread owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _mode(options: ServeOptions) -> str:
    if options.web and options.scheduler:
        return "serve"
    return "web-only" if options.web else "no-web"


class Service:
    def __init__(
        self,
        config: Config,
        options: ServeOptions,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.options = options
        self.env = os.environ if env is None else env
        self.stop = threading.Event()
        self.exit_code = 0
        self.info = ServiceInfo(_mode(options), standby=options.standby)
        self.engine: Engine | None = None
        self.lock: SchedulerLock | None = None
        self.jobs: Jobs | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.server: _Server | None = None
        self.web_thread: threading.Thread | None = None
        self._signals = 0
        self._started = False
        self._stopped = threading.Event()

    # -- start -------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Everything that can refuse to start, before any job runs or any port is bound."""
        from actwatch.db import open_database, upgrade

        self.engine = open_database(self.config, migrate=False)
        if self.options.scheduler:
            try:
                self.lock = scheduler_lock(self.engine, self.config.database_url)
            except ValueError as exc:
                raise ServiceError(str(exc)) from None
            if not self.options.standby and not self.lock.acquire():
                raise AlreadyRunning(self._busy_message())
        upgrade(self.engine)
        if self.options.scheduler:
            from actwatch.subscribers import SecretMissing, Tokens

            try:
                Tokens.from_config(self.config, self.env)
            except SecretMissing as exc:
                raise ServiceError(str(exc)) from None
            if self.config.mail.maildir is not None:
                log.warning(
                    "mail.url is %s: drafts are announced into the maildir, but bulletins can "
                    "only be sent through an SMTP server",
                    self.config.mail.url,
                )

    def _busy_message(self) -> str:
        from actwatch.db.lock import FileLock

        holder = self.lock.holder() if isinstance(self.lock, FileLock) else None
        who = f" (held by {holder})" if holder else ""
        assert self.lock is not None
        return (
            f"another actwatch scheduler is running on this database{who}: {self.lock.description} "
            "is taken. Stop it first, use --web-only for a second web process, or --standby to "
            "take over when it stops."
        )

    def run(self) -> int:
        """Run until a signal; the exit code."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.prepare()
            if self.options.web:
                self._start_web()
            if self.options.scheduler and not self.stop.is_set():
                self._start_scheduler()
            self._started = True
            if not self.stop.is_set():
                log.info(
                    "actwatch is running (%s)",
                    self.info.mode,
                    extra={"event": "started", "mode": self.info.mode, "pid": os.getpid()},
                )
            self._supervise()
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.exit_code

    def _start_web(self) -> None:
        from actwatch.web import WebConfigError, create_app

        assert self.engine is not None
        try:
            application = create_app(self.config, self.engine, env=self.env)
        except WebConfigError as exc:
            raise ServiceError(str(exc)) from None
        application.state.service = self.info
        host = self.options.host or self.config.web.host
        port = self.options.port or self.config.web.port
        self.server = _Server(
            uvicorn.Config(
                application,
                host=host,
                port=port,
                log_config=None,
                access_log=True,
                proxy_headers=False,
                # On: the app sends the subscriber mail its pages queue (web/outbox.py).
                lifespan="on",
                timeout_graceful_shutdown=GRACEFUL_WEB_SHUTDOWN,
            )
        )
        server = self.server
        self.web_thread = threading.Thread(target=self._run_web, name="actwatch-web", daemon=True)
        self.web_thread.start()
        deadline = time.monotonic() + WEB_START_TIMEOUT
        while not server.started:
            if not self.web_thread.is_alive():
                raise ServiceError(f"the web server could not listen on {host}:{port}")
            if time.monotonic() > deadline:
                raise ServiceError(f"the web server did not start on {host}:{port} in time")
            if self.stop.wait(0.05):
                return
        log.info(
            "web editor on http://%s:%s/editor/ (health: /healthz, /readyz, /metrics)",
            host,
            port,
            extra={"event": "web_started", "host": host, "port": port},
        )

    def _run_web(self) -> None:
        assert self.server is not None
        try:
            self.server.run()
        except BaseException as exc:  # uvicorn exits with SystemExit when it cannot bind
            if not isinstance(exc, SystemExit):
                log.exception("the web server failed")

    def _start_scheduler(self) -> None:
        assert self.lock is not None and self.engine is not None
        if self.options.standby and not self.lock.acquire():
            log.info(
                "standing by: another scheduler holds %s; taking over when it stops",
                self.lock.description,
                extra={"event": "standby"},
            )
            while not self.lock.acquire():
                if self.stop.wait(STANDBY_POLL):
                    return
            log.info("took over as the scheduler", extra={"event": "takeover"})
        self.jobs = Jobs(
            self.engine,
            self.config,
            self.stop,
            lock=self.lock,
            on_fatal=self._fatal,
            env=self.env,
            mode=self.info.mode,
        )
        self.scheduler = build_scheduler(self.config, self.jobs)
        self.scheduler.start()
        self.info.scheduler = self.scheduler

    def _supervise(self) -> None:
        while not self.stop.wait(0.5):
            if self.web_thread is not None and not self.web_thread.is_alive():
                self._fatal("the web server stopped")
            elif self.scheduler is not None and not self.scheduler.running:
                self._fatal("the scheduler stopped")

    # -- stop --------------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals > 1:
            log.warning("%s again: exiting now", name, extra={"event": "forced_exit"})
            os._exit(1)
        log.info("%s: finishing the current step, then stopping", name, extra={"event": "stopping"})
        self.request_stop()

    def _fatal(self, reason: str) -> None:
        log.error("stopping: %s", reason, extra={"event": "fatal"})
        self.exit_code = 1
        self.request_stop()

    def request_stop(self) -> None:
        self.stop.set()
        if self.server is not None:
            self.server.should_exit = True

    def _shutdown(self) -> None:
        self.request_stop()
        watchdog = threading.Thread(target=self._watchdog, name="actwatch-watchdog", daemon=True)
        watchdog.start()
        if self.scheduler is not None and self.scheduler.running:
            # No new runs start; the running ones see `stop` and end at their next checkpoint.
            self.scheduler.shutdown(wait=True)
        if self.web_thread is not None:
            self.web_thread.join(GRACEFUL_WEB_SHUTDOWN + 2)
        if self.jobs is not None:
            self.jobs.close()
            with contextlib.suppress(Exception):
                self.jobs.heartbeat(stopped=True)
        if self.lock is not None:
            self.lock.release()
        if self.engine is not None:
            self.engine.dispose()
        if self._started:
            log.info("stopped", extra={"event": "stopped", "exit_code": self.exit_code})
        self._stopped.set()

    def _watchdog(self) -> None:
        if self._stopped.wait(SHUTDOWN_DEADLINE):
            return
        log.error(
            "still busy %.0fs after being asked to stop: exiting now; unfinished work resumes "
            "on the next start",
            SHUTDOWN_DEADLINE,
            extra={"event": "forced_exit"},
        )
        logging.shutdown()
        os._exit(1)


def serve(config: Config, options: ServeOptions, env: Mapping[str, str] | None = None) -> int:
    return Service(config, options, env=env).run()


__all__ = ["AlreadyRunning", "ServeOptions", "Service", "ServiceError", "ServiceInfo", "serve"]
