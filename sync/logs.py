"""Logging for the CLI: one line per event, plain or JSON, with secrets scrubbed from every record.

A message may carry CRM text (names, loss reasons, API error text): in plain lines its control
characters are made visible (`mappings.printable.visible`: no ESC sequence reaches the terminal, no CR/LF
forges a line); JSON lines keep the exact text, with the characters JSON leaves raw (DEL, C1, bidi
controls) written as `\\u` escapes.

A tenant's lines carry its name: `[acme] ` before the logger in plain lines, `"tenant": "acme"` in JSON
lines; the name comes from `configure(tenant=...)` (the CLI's `--tenant`) or, for code running several
tenants in one process (an orchestrator's workers), from `tenant_context(name)` around each tenant's run.

Connectors never put secrets in messages; the scrubbing filter is a second line of defence: every
secret value from the settings (passwords, tokens, session ids, private keys) is replaced by `***` in
the formatted message of every record, whatever its level or origin (including third-party loggers).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from urllib3.exceptions import InsecureRequestWarning

from mappings.printable import visible
from sync.settings import Settings

MASK = "***"


class SecretScrubber(logging.Filter):
    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        # longest first, so a secret containing another is masked whole; ignore trivial values
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self.scrub(message)
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.scrub(formatted)
        if scrubbed != message or record.args:
            record.msg, record.args = scrubbed, None
        return True


_TENANT: contextvars.ContextVar[str | None] = contextvars.ContextVar("leadsync_tenant", default=None)


@contextlib.contextmanager
def tenant_context(name: str) -> Iterator[None]:
    """Log lines of this thread (or task) in the block carry tenant `name`."""
    token = _TENANT.set(name)
    try:
        yield
    finally:
        _TENANT.reset(token)


class TenantTag(logging.Filter):
    """Puts the tenant on each record: the one of `tenant_context`, else the process's (`--tenant`)."""

    def __init__(self, default: str | None) -> None:
        super().__init__()
        self.default = default

    def filter(self, record: logging.LogRecord) -> bool:
        name = _TENANT.get() or self.default
        record.tenant = name
        record.tenant_tag = f"[{name}] " if name else ""
        return True


class PlainFormatter(logging.Formatter):
    """`time LEVEL [tenant] logger: message`, the message with control characters made visible."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        raw = record.message
        record.message = visible(raw)
        try:
            return super().formatMessage(record)
        finally:
            record.message = raw


_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        tenant = getattr(record, "tenant", None)
        if tenant:
            out["tenant"] = tenant
        if record.exc_text:
            out["exception"] = record.exc_text
        elif record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(out, ensure_ascii=False))


def secret_values(settings: Settings | None) -> list[str]:
    if settings is None:
        return []
    out: list[str] = []
    for section in (settings.salesforce, settings.hubspot):
        for name in type(section).model_fields:
            value = getattr(section, name)
            if isinstance(value, SecretStr):
                out.append(value.get_secret_value())
    key_file = settings.salesforce.private_key_file
    if key_file is not None and key_file.is_file():
        with contextlib.suppress(OSError):
            out.extend(line for line in key_file.read_text(encoding="utf-8").splitlines() if len(line) > 16)
    return out


class _InsecureRequestsOnce:
    """urllib3's InsecureRequestWarning (one per request with `verify_tls = false`) goes to the log
    once per run (each `configure()` starts a run), not as raw warning blocks on stderr; every other
    warning is shown as before."""

    def __init__(self) -> None:
        self.logged = False
        self.previous = warnings.showwarning

    def __call__(self, message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
        if issubclass(category, InsecureRequestWarning):
            if not self.logged:
                self.logged = True
                text = str(message).split(" See: ")[0]
                logging.getLogger("urllib3").warning("%s (TLS verification is off; logged once per run)",
                                                     text)
            return
        self.previous(message, category, filename, lineno, file, line)


_insecure = _InsecureRequestsOnce()


def configure(settings: Settings | None, *, level: str | None = None,
              json_format: bool | None = None, tenant: str | None = None) -> None:
    """Set up the root logger for a CLI command (idempotent: replaces leadsync's own handler);
    `tenant`: the one the command acts for (`--tenant`), named on every line."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_leadsync", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._leadsync = True  # type: ignore[attr-defined]
    use_json = json_format if json_format is not None else bool(settings and settings.logging.json_format)
    handler.setFormatter(JsonFormatter() if use_json else
                         PlainFormatter("%(asctime)s %(levelname)s %(tenant_tag)s%(name)s: %(message)s"))
    handler.addFilter(TenantTag(tenant))
    handler.addFilter(SecretScrubber(secret_values(settings)))
    root.addHandler(handler)
    root.setLevel(level or (settings.logging.level if settings else "INFO"))
    for noisy in ("urllib3", "uvicorn", "uvicorn.error", "faker"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _insecure.logged = False  # a new run
    if warnings.showwarning is not _insecure:
        _insecure.previous = warnings.showwarning
        warnings.showwarning = _insecure
    warnings.filterwarnings("always", category=InsecureRequestWarning)  # each reaches the hook above
