"""The two commands of the quick start, needing nothing but Python 3.11+.

    python3 dev.py demo   start the whole product on embedded defaults
    python3 dev.py test   run the whole test suite
    python3 dev.py bench  run the benchmarks (PostgreSQL at BENCH_POSTGRES_URL)
    python3 dev.py load   run the load test (Locust; PostgreSQL at BENCH_POSTGRES_URL)

Each creates (or refreshes) the virtual environment in .venv first.
"""
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_environment(extras):
    """Create .venv and install the project with these extras when pyproject.toml or the extras changed."""
    if sys.version_info < (3, 11):  # noqa: UP036  (this is the check that tells an older Python why)
        sys.exit(f"Entra Team Sync needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not (BIN / "python").exists():
        print("Creating the virtual environment in .venv …", flush=True)
        venv.create(VENV, with_pip=True)
    stamp = VENV / ".installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest() + " " + extras
    if not stamp.exists() or stamp.read_text() != wanted:
        print("Installing dependencies …", flush=True)
        pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["-e", f"{ROOT}[{extras}]"], check=True)
        stamp.write_text(wanted)


def main(argv):
    commands = {
        "demo": [str(BIN / "python"), "-m", "demo.launcher"],
        "test": [str(BIN / "python"), "-m", "pytest", "-n", "auto", "-p", "no:cacheprovider"],
        "bench": [str(BIN / "python"), "-m", "bench"],
        "load": [str(BIN / "python"), "-m", "bench.load"],
    }
    if not argv or argv[0] not in commands:
        sys.exit(__doc__)
    ensure_environment("test,load" if argv[0] == "load" else "test")
    os.chdir(ROOT)
    os.execv(commands[argv[0]][0], commands[argv[0]] + argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
