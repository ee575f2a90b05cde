"""The `[salesforce]` section of settings.toml (env: `LEADSYNC_SALESFORCE__<KEY>`): the one model the
connector, its login and the settings loader share. Secrets are `SecretStr` (never shown in repr).

One flat model for every auth mode; `AUTH_NEEDS` says which keys each mode needs. The connector checks
them when it connects (`connectors.salesforce.auth.check_settings`), not when the file is loaded:
commands that never log in (report, explain, runs) keep working without Salesforce credentials."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

AuthMode = Literal["password", "jwt", "client_credentials", "session"]
AUTH_NEEDS: dict[str, tuple[str, ...]] = {
    "password": ("username", "password"),
    "jwt": ("username", "consumer_key", "private_key_file"),
    "client_credentials": ("consumer_key", "consumer_secret"),
    "session": ("session_id", "instance_url"),
}
# where a call task goes when the deal owner is an inactive user (see connectors.salesforce.owners)
INACTIVE_OWNER_MODES = ("account_owner", "skip")
OWNER_ID = re.compile(r"^(005|00G)[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")  # a User or a queue (Group) id


class SalesforceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auth: AuthMode = "password"
    domain: str = "login"  # login, test, or a My Domain prefix ("acme.my")
    login_url: str | None = None  # send https://{domain}.salesforce.com to this base instead (sandbox)
    instance_url: str | None = None  # for auth = "session"
    api_version: str = "59.0"
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    private_key_file: Path | None = None
    session_id: SecretStr | None = None
    ca_bundle: Path | None = None
    verify_tls: bool = True
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    loss_reason_field: str = "Loss_Reason__c"
    lookback_minutes: int = Field(default=10, ge=0)
    # 0 (the default): never. The REST deal read carries the contact roles as a subquery, so it costs
    # ceil((deals + roles) / 2,000) calls at any size; a Bulk API 2.0 query takes no subqueries, so above
    # the threshold roles and history come by IN list per page (about 40 % more calls: DECISIONS.md).
    # For orgs whose REST deal query times out.
    bulk_read_threshold: int = Field(default=0, ge=0)
    bulk_write_threshold: int = Field(default=10_000, ge=1)
    daily_reserve: int = Field(default=1_000, ge=0)
    inactive_owner: str = "account_owner"  # "account_owner" | "skip" | a User (005...) or queue (00G...) id

    @field_validator("login_url", "instance_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        """An https base URL with a host: the session id and password travel to it. (The transport
        checked this only when connecting, with a traceback; settings validation names the key.)"""
        if value is None:
            return None
        value = value.strip()
        try:
            parts = urlsplit(value)
            ok = parts.port is None or parts.port > 0  # .port raises ValueError for a port not a number
        except ValueError:
            ok = False
        if not ok or parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"must be an https URL with a host, such as https://acme.my.salesforce.com or "
                             f"https://127.0.0.1:8443 (got {value!r})")
        return value

    @field_validator("inactive_owner")
    @classmethod
    def _inactive_owner(cls, value: str) -> str:
        value = value.strip()
        if value in INACTIVE_OWNER_MODES or OWNER_ID.match(value):
            return value
        raise ValueError(
            "must be 'account_owner', 'skip', or a User (005...) or queue (00G...) id of 15 or 18 characters"
        )

    def uses_soap_login(self) -> bool:
        """`password` with a security token (or without a connected app): SOAP login(); otherwise
        `password` means the OAuth username-password flow."""
        has_app = bool(self.consumer_key and self.consumer_secret and self.consumer_secret.get_secret_value())
        token = self.security_token.get_secret_value() if self.security_token else ""
        return self.auth == "password" and (bool(token) or not has_app)

    def login_notice(self) -> str | None:
        """A warning for login paths Salesforce is retiring (None for the OAuth modes that stay)."""
        if self.auth != "password":
            return None
        if self.uses_soap_login():
            what = ("SOAP login(), which Salesforce does not offer from API version 65.0 and retires for "
                    "versions 31.0-64.0 with the Summer '27 release (help article 005132110)")
        else:
            what = ("the OAuth username-password flow, which Salesforce is retiring for connected apps: "
                    "integrations must move off it before 20 Feb 2027 (help article 005461976)")
        return (f"salesforce.auth = 'password' logs in with {what}; switch to auth = 'jwt' or "
                "'client_credentials' (docs/connect-salesforce.md)")

    def missing_for_auth(self) -> list[str]:
        """The keys the chosen auth mode needs that are not set (or empty), as `salesforce.<key>`."""
        return [f"salesforce.{name}" for name in AUTH_NEEDS[self.auth] if not getattr(self, name)]
