"""`nowserving web`: the web role's process, uvicorn serving `app.make_app`."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import uvicorn

from nowserving.client import broker_for
from nowserving.config import BranchConfig, DeviceConfig
from nowserving.web.accounts import Accounts
from nowserving.web.app import make_app
from nowserving.web.console import Console
from nowserving.web.console_bookings import add_bookings
from nowserving.web.console_reports import add_reports
from nowserving.web.feed import Feeds
from nowserving.web.limits import LimitStore
from nowserving.web.sessions import AuditLog

log = logging.getLogger(__name__)


def default_state_dir() -> Path:
    """Where the web role keeps its limits: systemd's STATE_DIRECTORY, else the XDG state
    home."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "nowserving"


def run_web(configs: list[BranchConfig], device: DeviceConfig, host: str, port: int,
            forwarded_allow_ips: str = "127.0.0.1", users: Path | None = None,
            audit_log: Path | None = None, logs: dict[str, Path] | None = None,
            reports_dir: Path | None = None, dsn: str | None = None,
            state_dir: Path | None = None) -> int:  # fmt: skip
    """Serve the ticket pages of `configs`' branches on host:port until stopped; with
    `users` (an accounts file), the manager's console too, auditing to `audit_log`, with
    reports and staffing advice of the branches whose event log is in `logs` (the
    reports' projections in `reports_dir`). The limits that must hold across processes and
    restarts (sign-in lock-out, remote joins per address) are kept in `state_dir`."""
    feeds = Feeds(configs, broker_for(device), device.id)
    limits = LimitStore.in_dir(state_dir or default_state_dir())
    console = reports = headoffice = None
    if users is not None:
        audit = AuditLog(audit_log or users.with_name("console-audit.log"), time.time)
        console = Console(feeds, Accounts(users), audit, logs=logs, limits=limits)
        reports = add_reports(console, logs or {}, reports_dir or users.parent)
        if dsn is not None:
            from nowserving.web.console_headoffice import add_headoffice

            headoffice = add_headoffice(console, dsn)
        add_bookings(console, logs or {})
    app = make_app(feeds, console=console, limits=limits)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,  # its lines hold the paths, and the paths hold tokens
        log_level="warning",
        proxy_headers=True,  # behind the reverse proxy: the phone's address, for limits
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
    )
    log.info("serving %d branch(es) on %s:%d", len(configs), host, port)
    try:
        uvicorn.Server(config).run()
    finally:
        limits.close()
        if reports is not None:
            reports.close()
        if headoffice is not None:
            headoffice.close()
    return 0
