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
    try:
        return importlib.import_module("sandbox.launcher")
    except ModuleNotFoundError as exc:
        Console(stderr=True).print(
            f"[red]error:[/red] the sandbox is an optional extra and is not installed here "
            f"(missing module {exc.name!r}); add it with: {escape(SANDBOX_HINT)}", highlight=False,
            soft_wrap=True)
        raise typer.Exit(EXIT_BAD_CONFIG) from None


def console_modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    """`sync.console.app`, `sync.console.auth` and `uvicorn`, or exit 2 naming the `console` extra when
    its packages (Starlette, Jinja2, argon2-cffi, uvicorn...) are missing. Loaded only by
    `leadsync console`: the other commands never import a web framework."""
    try:
        return (importlib.import_module("sync.console.app"), importlib.import_module("sync.console.auth"),
                importlib.import_module("uvicorn"))
    except ModuleNotFoundError as exc:
        Console(stderr=True).print(
            f"[red]error:[/red] the console is an optional extra and is not installed here "
            f"(missing module {exc.name!r}); add it with: {escape(CONSOLE_HINT)}", highlight=False,
            soft_wrap=True)
        raise typer.Exit(EXIT_BAD_CONFIG) from None
