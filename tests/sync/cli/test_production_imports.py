"""A production install needs none of the sandbox extra: `leadsync sync --help` loads no emulator
package, and the commands that run the emulators name the extra when it is missing."""

from __future__ import annotations

import subprocess
import sys

SANDBOX_ONLY = ("starlette", "uvicorn", "lark", "faker", "trustme", "sortedcontainers", "httptools")

PROBE = """
import sys
from typer.testing import CliRunner
from sync.cli.main import app
result = CliRunner().invoke(app, {args!r})
assert result.exit_code == 0, result.output
print(" ".join(sorted({{m.split(".")[0] for m in sys.modules}})))
"""


def _top_level_modules_after(args: list[str]) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True,
                         check=True, timeout=120)
    return set(out.stdout.split())


def test_sync_help_imports_no_sandbox_package() -> None:
    loaded = _top_level_modules_after(["sync", "--help"])
    assert "sync" in loaded and "typer" in loaded  # the probe did load the CLI
    assert loaded.isdisjoint(SANDBOX_ONLY), sorted(loaded & set(SANDBOX_ONLY))


def test_top_level_help_imports_no_sandbox_package() -> None:
    loaded = _top_level_modules_after(["--help"])
    assert loaded.isdisjoint(SANDBOX_ONLY), sorted(loaded & set(SANDBOX_ONLY))


BLOCKED = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
from sync.cli.main import main
sys.argv = ["leadsync", {command!r}]
main()
"""


def test_demo_without_the_extra_names_it() -> None:
    for command in ("demo", "sandbox"):
        code = BLOCKED.format(blocked=set(SANDBOX_ONLY), command=command)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (command, proc.stderr)
        assert "pip install 'leadsync[sandbox]'" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_console_without_the_extra_names_it() -> None:
    """Without Jinja2 or argon2-cffi (the console extra), `leadsync console` exits 2 naming the extra."""
    for blocked in ({"jinja2"}, {"argon2"}):
        code = BLOCKED.format(blocked=blocked, command="console")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (blocked, proc.stderr)
        assert "pip install 'leadsync[console]'" in proc.stderr
        assert "Traceback" not in proc.stderr
