"""`SalesforceEmulator`: the org (store), its sessions and credentials, the ASGI app, accounting."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ..clock import SandboxClock
from ..faults import CallLog, FaultInjector
from ..server import ServerThread, make_tls
from .api import NEWEST_VERSION, OLDEST_VERSION
from .app import UriLimit, build_app
from .auth import Credentials, Sessions
from .bulk import BulkJobs
from .ids import ORG_ID18, normalize_id
from .query import QueryEngine
from .rest import Cursors
from .schema import Schema
from .store import DEFAULT_USERNAME, Store


class SalesforceEmulator:
    """A local Salesforce org behind the REST, SOAP-login, OAuth and Bulk API 2.0 endpoints that
    simple-salesforce uses. See docs/sandbox-salesforce.md."""

    def __init__(
        self,
        *,
        faults: FaultInjector | None = None,
        daily_limit: int = 1_000_000,
        session_ttl_seconds: float = 7200,
        api_version: str = NEWEST_VERSION,
        clock: Callable[[], datetime] | None = None,
        custom_fields: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    ):
        # `clock` (default: real UTC time) plus the offset `move_clock` / POST /_sandbox/clock set
        self.clock = SandboxClock(clock)
        self.faults = faults if faults is not None else FaultInjector()
        self.daily_limit = daily_limit
        self.api_version = api_version  # the newest version served
        self.oldest_version = OLDEST_VERSION  # older ones answer 410 GONE (retired)
        # login paths Salesforce is retiring (see auth.py): switch on to fail as production will
        self.soap_login_retired = False
        self.password_grant_retired = False
        self.rotate_refresh_tokens = False  # the connected app's "refresh token rotation" (off by default)
        self.calls = CallLog()
        self.store = Store(Schema(custom_fields), self.clock)
        self.engine = QueryEngine(self.store)
        self.sessions = Sessions(self.clock, session_ttl_seconds)
        self.credentials = Credentials(self.sessions, username=DEFAULT_USERNAME)
        self.cursors = Cursors()
        self.bulk = BulkJobs()
        self.api_used = 0
        self._usage_lock = threading.Lock()
        self.app: UriLimit = build_app(self)
        self.ca_file: Path | None = None
        self._tls_tmp: tempfile.TemporaryDirectory[str] | None = None

    def count_api_call(self) -> int | None:
        """Count one API request; the new usage, or None when the daily allocation is spent."""
        with self._usage_lock:
            if self.api_used >= self.daily_limit:
                return None
            self.api_used += 1
            return self.api_used

    def move_clock(self, instant: datetime | None) -> datetime:
        """Make the org's now `instant` (record timestamps, OpportunityHistory rows, session
        inactivity, SOQL date literals follow it); None: back to real time. Returns the new now."""
        return self.clock.move_to(instant)

    def mint_session(self) -> str:
        """A valid session id (for `Salesforce(session_id=..., instance_url=...)`)."""
        return self.sessions.mint()

    @property
    def org_id(self) -> str:
        """The org's 18-character id (the Organization row, session ids, login answers)."""
        return self.store.org_id

    def reset(self, *, org_id: str | None = None) -> None:
        """Empty data, API usage, call counts, cursors, bulk jobs, sessions and fault rules; the
        strictness switches back to their defaults and the clock to real time. `org_id` (an 18-character
        `00D` id, e.g. `make_id("00D", 2)`): the org comes back as another org, as after a sandbox
        refresh (default: the sandbox's usual org, `ids.ORG_ID18`)."""
        self.clock.move_to(None)
        org_id = ORG_ID18 if org_id is None else org_id
        if normalize_id(org_id) != org_id or not org_id.startswith("00D"):
            raise ValueError(f"not an 18-character organization id: {org_id!r}")
        self.store.org_id = self.sessions.org_id = org_id
        self.store.reset()
        self.store.allow_inactive_task_owners = False
        self.engine.subquery_deleted_children = True
        self.soap_login_retired = self.password_grant_retired = self.rotate_refresh_tokens = False
        self.credentials.refresh_tokens = {self.credentials.refresh_token}
        self.calls.reset()
        self.faults.clear()
        self.faults.injected.clear()
        self.cursors.clear()
        self.bulk.clear()
        self.sessions.expire()
        with self._usage_lock:
            self.api_used = 0

    def serve(self, port: int = 0, tls_dir: Path | None = None) -> ServerThread:
        """Start serving over TLS on 127.0.0.1 (port 0 = a free one). The local CA is written to
        `tls_dir` (default: a temporary folder) and its path kept in `self.ca_file`."""
        if tls_dir is None:
            self._tls_tmp = tempfile.TemporaryDirectory(prefix="leadsync-sf-tls-")
            tls_dir = Path(self._tls_tmp.name)
        tls = make_tls(tls_dir)
        self.ca_file = tls.ca_file
        server = ServerThread(self.app, port=port, tls=tls, name="salesforce")
        return server.start()

