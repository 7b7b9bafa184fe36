"""CI's type checker and linter: mypy over webapp/ and worker/, ruff over the whole tree, as pyproject.toml says."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_passes_on_every_module_of_the_product():
    result = run("mypy")
    assert result.returncode == 0, f"mypy found problems:\n{result.stdout}{result.stderr}"
    checked = re.search(r"no issues found in (\d+) source files", result.stdout)
    modules = [path for area in ("webapp", "worker") for path in (ROOT / area).rglob("*.py")]
    assert checked is not None and int(checked.group(1)) == len(modules), result.stdout


def test_ruff_passes_on_the_whole_tree():
    result = run("ruff", "check", ".")
    assert result.returncode == 0, f"ruff found problems:\n{result.stdout}{result.stderr}"
