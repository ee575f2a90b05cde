"""`mappings.printable.visible` and the log formatters: control characters from a CRM never reach a
terminal raw; JSON log lines keep the exact text."""

from __future__ import annotations

import json
import logging

import pytest

from mappings.emails import mask_email
from mappings.printable import visible
from sync.cli.doctor import render
from sync.logs import JsonFormatter, PlainFormatter
from sync.run.doctor import DoctorReport


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[2J", "\\x1b[2J"),
    ("\x1b]0;pwn\x07", "\\x1b]0;pwn\\x07"),
    ("\x1b]8;;https://x.example/\x1b\\a\x1b]8;;\x1b\\", "\\x1b]8;;https://x.example/\\x1b\\a\\x1b]8;;\\x1b\\"),
    ("a\x00b\r\nc\td", "a\\x00b\\r\\nc\\td"),
    ("\x7f\x9b31m", "\\x7f\\x9b31m"),
    ("abc\u202egpj.exe", "abc\\u202egpj.exe"),
    ("山田 太郎 🚀 café", "山田 太郎 🚀 café"),
    (None, ""),
    (12, "12"),
])
def test_visible(raw: object, shown: str) -> None:
    assert visible(raw) == shown


def test_the_email_mask_shows_control_characters_escaped() -> None:
    assert mask_email("\x1b[2Jx@exa\x00mple.com") == "\\x1b[***@exa\\x00mple.com"
    assert mask_email("taro.yamada@example.com") == "ta***@example.com"


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("leadsync.test", logging.INFO, __file__, 1, msg, args, None)


def test_plain_log_lines_cannot_be_forged_or_drive_the_terminal() -> None:
    record = _record("deal %s lost: %s", "\x1b]0;pwn\x07A", "Price\r\n2025-06-02 INFO forged")
    line = PlainFormatter("%(levelname)s %(message)s").format(record)
    assert line == "INFO deal \\x1b]0;pwn\\x07A lost: Price\\r\\n2025-06-02 INFO forged"
    assert record.getMessage().endswith("forged")  # the record itself is left exact for other handlers


def test_json_log_lines_keep_the_exact_text_with_nothing_raw() -> None:
    text = "A\x1b[2J\x00\r\n\x9b\u202eB"
    line = JsonFormatter().format(_record("%s", text))
    assert json.loads(line)["message"] == text
    assert not any(c in line for c in "\x1b\x00\r\n\x9b\u202e")


def test_doctor_lines_show_api_text_escaped() -> None:
    report = DoctorReport()
    report.add("salesforce", "fields", "problem", "bad picklist value 'Hot\x1b]0;pwn\x07'", fix="fix\r\nit")
    text = render(report)
    assert "'Hot\\x1b]0;pwn\\x07'" in text and "fix: fix\\r\\nit" in text
    assert "\x1b" not in text and "\r" not in text
