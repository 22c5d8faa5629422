"""The architecture contracts in pyproject.toml ([tool.importlinter]) hold, and can fail."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_LINT = (
    "import sys; from importlinter.cli import lint_imports_command; "
    "sys.exit(lint_imports_command())"
)


def lint_imports(
    cwd: Path, *args: str, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with this interpreter; no cache directory is left behind."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p
        )
    return subprocess.run(
        [sys.executable, "-c", _LINT, "--no-cache", "--no-logo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_repository_keeps_its_import_contracts() -> None:
    result = lint_imports(ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "0 broken" in output
    assert "Services never import each other KEPT" in output


def write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


CONFIG = """\
[tool.importlinter]
root_packages = ["tinyshop_contracts", "tinyshop_orders", "tinyshop_billing"]

[[tool.importlinter.contracts]]
name = "Services never import each other"
type = "independence"
modules = ["tinyshop_orders", "tinyshop_billing"]

[[tool.importlinter.contracts]]
name = "Contracts never import a service"
type = "forbidden"
source_modules = ["tinyshop_contracts"]
forbidden_modules = ["tinyshop_orders", "tinyshop_billing"]
"""


def tiny_project(root: Path, *, billing_imports_orders: bool) -> Path:
    write(root / "tinyshop_contracts" / "__init__.py", "EVENT = 'order-placed'\n")
    write(root / "tinyshop_orders" / "__init__.py")
    write(root / "tinyshop_orders" / "place.py", "from tinyshop_contracts import EVENT\n")
    write(root / "tinyshop_billing" / "__init__.py")
    invoice = "from tinyshop_contracts import EVENT\n"
    if billing_imports_orders:
        invoice += "from tinyshop_orders.place import EVENT as SHORTCUT\n"
    write(root / "tinyshop_billing" / "invoice.py", invoice)
    config = root / "architecture.toml"
    config.write_text(CONFIG)
    return config


def test_checker_passes_a_clean_layout(tmp_path: Path) -> None:
    config = tiny_project(tmp_path, billing_imports_orders=False)
    result = lint_imports(tmp_path, "--config", str(config), pythonpath=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_checker_fails_when_a_service_imports_another(tmp_path: Path) -> None:
    config = tiny_project(tmp_path, billing_imports_orders=True)
    result = lint_imports(tmp_path, "--config", str(config), pythonpath=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Services never import each other BROKEN" in output
    assert "tinyshop_billing.invoice -> tinyshop_orders.place" in output
