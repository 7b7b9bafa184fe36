"""`python -m demo.launcher`: the whole product on embedded defaults, for a first look.

Starts the local Microsoft stand-in (fake_entra with its demo tenant), an embedded Redis,
then the web server, an RQ worker and the scheduler, starts again any of those three that stops
(with a back-off), and stops them all on Ctrl-C.
"""
import os
import signal
import subprocess
import sys
import time

from demo.data import DEMO_LEADER_EMAIL, DEMO_LEADER_PASSWORD
from fake_entra import demo
from fake_entra.testing import FakeEntra
from webapp import config as settings
from webapp import embedded_redis

WEB_PORT = int(os.environ.get("PORT", "5000"))
FAKE_ENTRA_PORT = int(os.environ.get("FAKE_ENTRA_PORT", "5050"))
FIRST_RESTART_SECONDS = 1.0
LONGEST_RESTART_SECONDS = 30.0
HEALTHY_SECONDS = 60.0  # a process that ran this long before it stopped is started again without delay growth


def demo_environment(fake):
    env = dict(os.environ)
    env.setdefault("REDIS_URL", embedded_redis.shared_url(settings.INSTANCE))
    env.update({
        "ENTRA_SYNC_ENV": "development",
        "ENTRA_AUTHORITY_URL": fake.authority_url,
        "GRAPH_API_URL": fake.graph_url,
        "MS_CLIENT_ID": demo.PORTAL_CLIENT_ID,
        "MS_CLIENT_SECRET": demo.PORTAL_CLIENT_SECRET,
        "PYTHONUNBUFFERED": "1",
    })
    return env


def processes(env):
    """The Procfile's processes, as this virtual environment runs them."""
    bin_dir = os.path.dirname(sys.executable)
    return {
        "web": [os.path.join(bin_dir, "gunicorn"), "wsgi:app", "--bind", f"127.0.0.1:{WEB_PORT}",
                "--workers", "1", "--threads", "8", "--log-level", "warning"],
        "worker": [sys.executable, "-m", "worker.rq_worker", "sync"],
        "scheduler": [sys.executable, "-m", "worker.scheduler", "--interval", "10"],
    }


class Supervisor:
    """Keeps the demo's processes running: one that stops is started again after a back-off (1 s, doubling up to
    30 s while it keeps stopping soon after each start), with a line saying so."""

    def __init__(self, commands, env, cwd, clock=time.monotonic, out=sys.stderr):
        self.commands, self.env, self.cwd, self.clock, self.out = commands, env, cwd, clock, out
        self.children, self.started_at, self.delay, self.restart_at = {}, {}, {}, {}
        for name in commands:
            self.delay[name] = FIRST_RESTART_SECONDS
            self._start(name)

    def _start(self, name):
        self.children[name] = subprocess.Popen(self.commands[name], env=self.env, cwd=self.cwd)
        self.started_at[name] = self.clock()

    def check(self):
        """Notice the processes that stopped and start each again once its back-off has passed."""
        now = self.clock()
        for name, child in self.children.items():
            if child.poll() is None:
                continue
            if name not in self.restart_at:
                if now - self.started_at[name] >= HEALTHY_SECONDS:
                    self.delay[name] = FIRST_RESTART_SECONDS
                self.restart_at[name] = now + self.delay[name]
                print(f"{name} stopped (exit code {child.returncode}); starting it again in "
                      f"{self.delay[name]:.0f} s.", file=self.out, flush=True)
                self.delay[name] = min(LONGEST_RESTART_SECONDS, self.delay[name] * 2)
            elif now >= self.restart_at[name]:
                del self.restart_at[name]
                self._start(name)
                print(f"{name} started again.", file=self.out, flush=True)

    def stop(self):
        for child in self.children.values():
            child.terminate()
        for child in self.children.values():
            child.wait(timeout=10)


def run(command, env):
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "wsgi", *command],
                   env=env, check=True)


def main():
    with FakeEntra.start(port=FAKE_ENTRA_PORT) as fake:
        env = demo_environment(fake)
        run(["migrate"], env)
        run(["demo-data"], env)
        supervisor = Supervisor(processes(env), env, settings.ROOT)
        print(f"""
Entra Team Sync is running at http://127.0.0.1:{WEB_PORT}/
  Sign in as {DEMO_LEADER_EMAIL} / {DEMO_LEADER_PASSWORD}.
  Microsoft stand-in (fake_entra) at {fake.authority_url}; its demo tenant "{demo.TENANT_NAME}":
    Connect Microsoft OAuth: sign in at Microsoft's page as {demo.ADMIN_EMAIL} / {demo.USER_PASSWORD}
    Create Your Own Enterprise App:
      Tenant ID {demo.TENANT_ID}
      Client ID {demo.ENTERPRISE_APP_CLIENT_ID}
      Client Secret {demo.ENTERPRISE_APP_SECRET}
Press Ctrl-C to stop.
""", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while True:
                supervisor.check()
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            supervisor.stop()


if __name__ == "__main__":
    main()
