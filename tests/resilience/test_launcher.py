"""The demo launcher keeps its processes running: a worker that dies is started again (with a back-off, said in
its output) while the rest of the demo goes on."""
import os
import signal
import subprocess
import time

import psutil
import requests

from tests.security.conftest import BIN, ROOT, free_port
from tests.worker.conftest import wait_for


def children_running(launcher, module):
    return [child for child in psutil.Process(launcher.pid).children()
            if any(module in part for part in child.cmdline())]


def test_a_worker_that_dies_is_started_again_and_the_demo_goes_on(own_redis, tmp_path):
    port = free_port()
    env = dict(os.environ, PORT=str(port), FAKE_ENTRA_PORT=str(free_port()), REDIS_URL=own_redis.url,
               DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", ENTRA_SYNC_ENV="development",
               PYTHONPATH=str(ROOT))
    env.pop("SECRET_KEY", None)
    output = tmp_path / "launcher.log"
    with open(output, "w") as log:
        launcher = subprocess.Popen([str(BIN / "python"), "-m", "demo.launcher"], cwd=ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/login"), timeout=60)
        first = wait_for(lambda: children_running(launcher, "worker.rq_worker"), timeout=30)[0]
        first.send_signal(signal.SIGKILL)
        wait_for(lambda: "worker started again." in output.read_text(), timeout=30)
        assert "worker stopped (exit code -9); starting it again in 1 s." in output.read_text()
        assert launcher.poll() is None
        again = children_running(launcher, "worker.rq_worker")
        assert len(again) == 1 and again[0].pid != first.pid
        assert _answers(f"http://127.0.0.1:{port}/login")
        assert children_running(launcher, "worker.scheduler")
    finally:
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            launcher.kill()
        time.sleep(0.5)


def _answers(url):
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
