"""`leadsync console [--host 127.0.0.1] [--port 8765] [--config PATH] [--allow-remote] [--token]`: the admin
console, a local web application over the same settings, mapping and state store as the other commands
(`sync.views.local_state.open_local_state`). `leadsync console set-password [--user NAME] [--role
admin|viewer]`: who may sign in (an argon2 hash in the state store; the password is asked twice and
never echoed).

`--token` prints a sign-in URL with a random single-use token (an admin session; the console keeps only
its hash, in memory); it is also how the console starts while no console user exists, so a fresh store
is usable at once.

Binds 127.0.0.1 by default; any other address needs --allow-remote and prints a warning (the console
serves plain HTTP: put it behind a TLS proxy). Exit codes: 0 ok; 2 bad configuration or options.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sync.cli.console_run import run_starter
from sync.cli.extras import console_modules
from sync.cli.tenant import TenantOpt, config_source
from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_OK
from sync.run.context import write_sizes
from sync.settings import ConfigSource
from sync.views.local_state import LocalStateError, open_local_state
from sync.views.terminal import visible

CONFIG_HELP = "Settings file (default: $LEADSYNC_CONFIG, else ./settings.toml)."
TOKEN_HELP = ("Print a sign-in URL with a random single-use token (an admin session); the default while no "
              "console user exists.")
REMOTE_HELP = ("Allow a host other than the loopback (the console serves plain HTTP: put a TLS proxy in "
               "front of it).")

app = typer.Typer(help="The admin console: the waterfall, recycle groups and runs in a browser.",
                  invoke_without_command=True, no_args_is_help=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="console")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to bind.")] = 8765,
    config: Annotated[Path | None, typer.Option("--config", "-c", help=CONFIG_HELP,
                                                show_default=False)] = None,
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help=REMOTE_HELP)] = False,
    token: Annotated[bool, typer.Option("--token", help=TOKEN_HELP)] = False,
    tenant: TenantOpt = None,
) -> None:
    if ctx.invoked_subcommand is not None:
        ctx.obj = config_source(config, tenant)
        return
    raise typer.Exit(serve_command(host, port, config_source(config, tenant), allow_remote, token))


def serve_command(host: str, port: int, config: ConfigSource, allow_remote: bool, token: bool = False) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if not is_loopback(host):
        if not allow_remote:
            err.print(visible(f"--host {host} is not a loopback address: the console would be reachable "
                              f"from other machines over plain HTTP; add --allow-remote to do it anyway"),
                      markup=False)
            return EXIT_BAD_CONFIG
        err.print(visible(f"warning: serving on {host}:{port} over plain HTTP, reachable from other "
                          f"machines; put a TLS proxy in front of it"), markup=False)
    console_modules()  # a missing console extra is named before any file is read
    try:
        with open_local_state(config) as local:
            if not local.store.console_users():
                err.print("no console user yet: sign in with the one-time link below; to sign in with a "
                          "password later, run `leadsync console set-password`", markup=False)
                token = True
            run_console(local.store, local.mapping, host, port, token=token,
                        mapping_path=local.settings.sync.mapping_file, sizes=write_sizes(local.settings),
                        start_run=run_starter(config))
    except LocalStateError as exc:
        err.print(visible(exc), markup=False)
        return EXIT_BAD_CONFIG
    return EXIT_OK


def run_console(store: Any, mapping: Any, host: str, port: int, *, token: bool,
                mapping_path: Path | None = None, sizes: Any = None, start_run: Any = None) -> None:
    """Serve the console over `store` and `mapping` until Ctrl+C; with `token`, print the sign-in URL
    (on stdout, once; only its hash stays in memory). No access log: the URL carries the token."""
    web, auth, uvicorn = console_modules()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    holder = None
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # a wildcard bind: open it here
    err.print(visible(f"leadsync console on http://{shown}:{port}/ (Ctrl+C to stop)"), markup=False)
    if token:
        secret, holder = auth.SignInToken.new()
        print(f"sign in (once) at {auth.token_url(shown, port, secret)}", flush=True)
        del secret
    app = web.create_app(store, mapping, sign_in_token=holder, mapping_path=mapping_path,
                         write_sizes=sizes, start_run=start_run)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@app.command("set-password", help="Create a console user or change their password and role (asked twice, "
             "never echoed; at least 12 characters). Stored as an argon2id hash in the state store.")
def set_password(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="User name.")] = "admin",
    role: Annotated[str, typer.Option("--role", help="admin (will edit the mapping and retry runs) or "
                                                     "viewer (reads).")] = "admin",
    config: Annotated[Path | None, typer.Option("--config", "-c", help=CONFIG_HELP,
                                                show_default=False)] = None,
    tenant: TenantOpt = None,
) -> None:
    given = config is not None or tenant is not None
    raise typer.Exit(set_password_command(user, role, config_source(config, tenant) if given else ctx.obj))


def set_password_command(user: str, role: str, config: ConfigSource) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if role not in ("admin", "viewer"):
        err.print(visible(f"--role must be admin or viewer, not {role!r}"), markup=False)
        return EXIT_BAD_CONFIG
    if not user.strip():
        err.print("--user must not be empty", markup=False)
        return EXIT_BAD_CONFIG
    _, auth, _ = console_modules()
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with open_local_state(config) as local:
            auth.set_password(local.store, user.strip(), role, password, by=None)
    except LocalStateError as exc:
        err.print(visible(exc), markup=False)
        return EXIT_BAD_CONFIG
    except auth.PasswordTooShort as exc:
        err.print(visible(exc), markup=False)
        return EXIT_BAD_CONFIG
    err.print(visible(f"console user {user.strip()} ({role}) saved"), markup=False)
    return EXIT_OK
