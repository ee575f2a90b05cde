"""`leadsync mappings explain EMAIL`: one synced person from the local state store (no API calls).
The work is in `sync.views.explain`; this prints it and chooses the exit code."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from mappings.emails import parse_email
from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_NOT_FOUND, EXIT_OK
from sync.inputs import parse_now
from sync.settings import ConfigSource
from sync.views.explain import explain_person
from sync.views.explain_render import render_explanation
from sync.views.local_state import LocalStateError, open_local_state, output_console
from sync.views.terminal import visible


def explain_email_command(email: str, config: ConfigSource, json_out: bool, now: str | None,
                          console: Console | None = None) -> int:
    """Print the explanation; returns the exit code (0 found; 2 no such person in the state store, bad
    configuration or --now)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        at = parse_now(now)
        with open_local_state(config) as local:
            result = explain_person(local.store, local.mapping, email, at)
    except (LocalStateError, ValueError) as exc:
        err.print(visible(exc), markup=False)
        return EXIT_BAD_CONFIG
    return print_person(result, email, json_out, render_explanation, console, err, missing=(
        "not found in the state store",
        "no Salesforce contact on a stored deal and no HubSpot contact has this email; "
        "run `leadsync sync` if the person is new"))


def print_person(result: Any, email: str, as_json: bool, render: Callable[[Any, Console], None],
                 console: Console | None, err: Console, *, missing: tuple[str, str]) -> int:
    """Print one person's view (`result.to_dict()` as JSON, or `render`), or say why there is none:
    `missing` = (what, why when the email is usable). Returns the exit code."""
    if result is None:
        _, problem = parse_email(email)
        why = f"not a usable email ({problem})" if problem else missing[1]
        err.print(visible(f"{email}: {missing[0]}: {why}"), markup=False)
        return EXIT_NOT_FOUND
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        render(result, console or output_console())
    return EXIT_OK
