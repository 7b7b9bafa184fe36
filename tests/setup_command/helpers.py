"""Running `python -m entra_setup` as an administrator would, against fake_entra over HTTP."""
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from fake_entra import demo

OPEN = re.compile(r"open\s+(\S+)")
ENTER = re.compile(r"enter\s+(\S+)")


@dataclass
class CommandRun:
    """A finished run: its exit status, everything it printed, and the values it printed for the Sync page."""

    status: int
    output: str
    values: dict = field(default_factory=dict)


def start_command(fake_entra, *args, env=None):
    """Start the command; return the process and the (verification URL, code) it prints."""
    environment = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    process = subprocess.Popen([sys.executable, "-m", "entra_setup", "--authority", fake_entra.base_url,
                                "--graph", f"{fake_entra.base_url}/v1.0", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=environment)
    seen = []
    url = code = None
    for line in process.stdout:
        seen.append(line)
        url = url or (OPEN.search(line).group(1) if OPEN.search(line) else None)
        if ENTER.search(line):
            code = ENTER.search(line).group(1)
            break
    return process, url, code, seen


def finish(process, seen, timeout=60) -> CommandRun:
    """Wait for the command to end and pick the printed values out of its output."""
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        seen.extend(process.stdout)
        status = process.wait()
    finally:
        timer.cancel()
    output = "".join(seen)
    values = dict(re.findall(r"^  (Tenant ID|Client ID|Client Secret|Secret expires|Certificate):\s+(\S+)",
                             output, re.M))
    return CommandRun(status, output, values)


def run_setup(fake_entra, *args, email=demo.ADMIN_EMAIL, accept=True) -> CommandRun:
    """The whole run: the administrator opens the page, enters the code, signs in and consents."""
    process, url, code, seen = start_command(fake_entra, *args)
    assert url and code, "".join(seen)
    fake_entra.device_sign_in(url, code, email, accept=accept)
    return finish(process, seen)
