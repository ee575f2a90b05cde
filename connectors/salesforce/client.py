"""One Salesforce API session: every request goes through the retry policy, is counted, and updates the
API budget read from `Sforce-Limit-Info`.

simple-salesforce's exceptions carry no response headers, so a response hook remembers the headers of
the last error response and attaches them to the exception (`exc.headers`) before it is classified:
that is how a Retry-After on a Salesforce 429/503 is honoured.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connectors.base import AuthenticationError, BudgetExhausted, CallCounter
from connectors.retry import HTTPResponseError, RetryPolicy, call
from connectors.salesforce.auth import check_settings, login, session_for
from connectors.salesforce.errors import SALESFORCE_ERRORS
from connectors.salesforce.settings import SalesforceSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
SYSTEM = "salesforce"

# endpoint names, as the sandbox emulator counts them
LOGIN = "salesforce.login"  # SOAP login
TOKEN = "salesforce.token"  # OAuth token endpoint
QUERY = "salesforce.query"
QUERY_MORE = "salesforce.query_more"
COLLECTIONS = "salesforce.collections"
DESCRIBE = "salesforce.describe"
BULK = "salesforce.bulk"


class SalesforceClient:
    """A logged-in simple-salesforce client plus the retry policy, call counter and budget."""

    def __init__(
        self,
        config: SalesforceSettings,
        *,
        counter: CallCounter,
        policy: RetryPolicy,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config
        self.counter = counter
        self.policy = policy
        self.sleep = sleep
        self.session = session if session is not None else session_for(config)
        self.session.hooks.setdefault("response", []).append(self._on_response)
        self._sf: Salesforce | None = None
        self._usage: tuple[int, int] | None = None
        self._error_headers: Mapping[str, str] | None = None
        self.last_total_size: int | None = None
        self.login_org_id: str | None = None  # the org's id as the last login answered it (18 characters)

    # ------------------------------------------------------------------ session
    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            self.connect()
        assert self._sf is not None
        return self._sf

    def connect(self) -> None:
        """Log in (retrying transient failures). Incomplete auth settings raise ConfigurationError, a
        refused login AuthenticationError."""
        check_settings(self.config)
        notice = self.config.login_notice()
        if notice:
            log.warning("salesforce: %s", notice)
        if self.config.auth == "session":  # nothing to send: the session is given
            self._sf = login(self.config, self.session)
            return
        self._sf = self.call(
            login_endpoint(self.config), lambda: login(self.config, self.session), relogin=False
        )

    def where(self) -> str:
        """The base URL requests go to, for error messages: the instance once logged in, else the login
        host (`login_url` when set)."""
        if self._sf is not None:
            return f"https://{self._sf.sf_instance}"
        if self.config.auth == "session" and self.config.instance_url:
            return self.config.instance_url
        return self.config.login_url or f"https://{self.config.domain}.salesforce.com"

    def _relogin(self) -> None:
        log.info("salesforce: session expired, logging in again")
        self.connect()

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        info = response.headers.get("Sforce-Limit-Info")
        if info:
            usage = Salesforce.parse_api_usage(info).get("api-usage")
            if usage is not None:
                self._usage = (int(usage.used), int(usage.total))
        self._error_headers = response.headers if response.status_code >= 300 else None
        if response.status_code == 200:
            org = login_org_id(response)
            if org is not None:
                self.login_org_id = org

    # ------------------------------------------------------------------ calls
    def call(
        self, endpoint: str, fn: Callable[[], T], *, relogin: bool = True, policy: RetryPolicy | None = None
    ) -> T:
        """Run one request under the retry policy, counted under `endpoint`."""
        can_relogin = relogin and self.config.auth != "session"

        def attempt() -> T:
            try:
                return fn()
            except SalesforceError as exc:
                if self._error_headers is not None and not hasattr(exc, "headers"):
                    exc.headers = self._error_headers  # type: ignore[attr-defined]
                raise

        try:
            return call(
                attempt,
                system=SYSTEM,
                endpoint=endpoint,
                counter=self.counter,
                policy=policy or self.policy,
                errors=SALESFORCE_ERRORS,
                relogin=self._relogin if can_relogin else None,
                sleep=self.sleep,
                where=self.where,
            )
        except AuthenticationError as exc:
            if relogin and not can_relogin:
                raise AuthenticationError(
                    f"{exc} (auth = 'session': configure a login mode to let leadsync log in again)",
                    status=exc.status,
                    code=exc.code,
                ) from exc
            raise

    def query_pages(
        self, soql: str, *, include_deleted: bool = False, page_size: int = 2000, budgeted: bool = True
    ) -> Iterator[list[dict[str, Any]]]:
        """The records of a SOQL query, one API page at a time (query, then nextRecordsUrl). With
        `budgeted`, the budget is checked before each page; `last_total_size` is the query's totalSize."""
        headers = {"Sforce-Query-Options": f"batchSize={max(200, min(2000, page_size))}"}
        if budgeted:
            self.check_budget()
        result = self.call(
            QUERY, lambda: self.sf.query(soql, include_deleted=include_deleted, headers=headers)
        )
        self.last_total_size = result.get("totalSize")
        while True:
            yield [_plain(r) for r in result.get("records", [])]
            next_url = result.get("nextRecordsUrl")
            if result.get("done", True) or not next_url:
                return
            if budgeted:
                self.check_budget()
            result = self.call(
                QUERY_MORE,
                lambda url=next_url: self.sf.query_more(url, identifier_is_url=True, headers=headers),
            )

    def query_more(self, next_url: str) -> dict[str, Any]:
        """One more page of a query or of a child relationship result (its `nextRecordsUrl`), raw."""
        return self.call(QUERY_MORE, lambda: self.sf.query_more(next_url, identifier_is_url=True))

    def query(
        self, soql: str, *, include_deleted: bool = False, budgeted: bool = True
    ) -> Iterator[dict[str, Any]]:
        """All records of a query, fetched page by page as they are consumed."""
        for page in self.query_pages(soql, include_deleted=include_deleted, budgeted=budgeted):
            yield from page

    def restful(self, endpoint: str, path: str, *, method: str = "GET", **kwargs: Any) -> Any:
        return self.call(endpoint, lambda: self.sf.restful(path, method=method, **kwargs))

    def raw(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """A request with the client's session and auth header to `base_url + path`, for endpoints
        simple-salesforce cannot drive page by page (Bulk API 2.0). Non-2xx raises HTTPResponseError."""

        def send() -> requests.Response:
            sf = self.sf
            merged = {**sf.headers, **(headers or {})}
            return HTTPResponseError.check(
                self.session.request(method, sf.base_url + path, headers=merged, **kwargs)
            )

        return self.call(endpoint, send, policy=policy)

    # ------------------------------------------------------------------ budget
    def budget(self) -> tuple[int, int] | None:
        """(used, max) daily API requests from the last Sforce-Limit-Info seen, None before any call."""
        return self._usage

    def check_budget(self) -> None:
        """Raise BudgetExhausted when fewer than `daily_reserve` daily calls remain. Called before a batch
        starts, never in the middle of one."""
        if self._usage is None:
            return
        used, total = self._usage
        if total - used < self.config.daily_reserve:
            raise BudgetExhausted(
                f"salesforce: {total - used} of {total} daily API calls left, below the "
                f"reserve of {self.config.daily_reserve}; stopping before the next batch"
            )


_SOAP_ORG = re.compile(r"<organizationId>([0-9A-Za-z]{15,18})</organizationId>")
_IDENTITY_URL = re.compile(r"/id/([0-9A-Za-z]{15,18})/[0-9A-Za-z]{15,18}/?$")
_BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id18(value: str) -> str:
    """The 18-character form of a 15-character Salesforce id (the case-checksum suffix); an
    18-character id unchanged."""
    if len(value) != 15:
        return value
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, c in enumerate(value[start:start + 5]) if c.isupper())
        suffix += _BASE62[bits]
    return value + suffix


def login_org_id(response: requests.Response) -> str | None:
    """The org id a login answer carries, or None for any other response: the OAuth token response's
    `id` (the identity URL, `.../id/<org id>/<user id>`: "OAuth Endpoints", token response fields) or
    SOAP login()'s `userInfo.organizationId` (SOAP API, LoginResult / GetUserInfoResult)."""
    path = requests.utils.urlparse(response.url).path
    try:
        if path.endswith("/services/oauth2/token"):
            match = _IDENTITY_URL.search(str(response.json().get("id") or ""))
        elif "/services/Soap/u/" in path:
            match = _SOAP_ORG.search(response.text)
        else:
            return None
    except ValueError:  # not JSON
        return None
    return id18(match.group(1)) if match else None


def login_endpoint(config: SalesforceSettings) -> str:
    """The endpoint a login counts under: SOAP for username/password(+token), OAuth token otherwise."""
    if config.uses_soap_login():
        return LOGIN
    return TOKEN


def plain_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """`_plain`, for records of a child relationship result (which come raw inside their parent)."""
    return _plain(record)


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """A query record without `attributes`, parent objects flattened one level ("Account" -> dict)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        out[key] = _plain(value) if isinstance(value, Mapping) else value
    return out
