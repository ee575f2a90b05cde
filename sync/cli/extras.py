"""Optional parts of leadsync that live in extras: load them, or say exactly how to add them."""

from __future__ import annotations

import importlib
from types import ModuleType

import typer
from rich.console import Console
from rich.markup import escape

from sync.exit_codes import EXIT_BAD_CONFIG

SANDBOX_HINT = "pip install 'leadsync[sandbox]'"
CONSOLE_HINT = "pip install 'leadsync[console]'"


def sandbox_launcher() -> ModuleType:
    """`sandbox.launcher` (the emulators), or exit 2 naming the extra when its packages are missing.
    Loaded only when a command that runs the emulators starts: a production sync never imports them."""
    (launcher,) = _load("the sandbox", SANDBOX_HINT, "sandbox.launcher")
    return launcher


def console_modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    """`sync.console.app`, `sync.console.auth` and `uvicorn`, or exit 2 naming the `console` extra when
    its packages (Starlette, Jinja2, argon2-cffi, uvicorn...) are missing. Loaded only by
    `leadsync console`: the other commands never import a web framework."""
    app, auth, server = _load("the console", CONSOLE_HINT, "sync.console.app", "sync.console.auth", "uvicorn")
    return app, auth, server


def _load(what: str, hint: str, *names: str) -> tuple[ModuleType, ...]:
    """The modules of an extra, or exit 2 saying which is missing and how to add the extra."""
    try:
        return tuple(importlib.import_module(name) for name in names)
    except ModuleNotFoundError as exc:
        Console(stderr=True).print(
            f"[red]error:[/red] {what} is an optional extra and is not installed here "
            f"(missing module {exc.name!r}); add it with: {escape(hint)}", highlight=False,
            soft_wrap=True)
        raise typer.Exit(EXIT_BAD_CONFIG) from None
