"""The benchmark's stage: fake_entra with a seeded tenant, a private Redis, a database, workers."""
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import redis
from cryptography.fernet import Fernet

from fake_entra.testing import FakeEntra
from webapp import create_app, embedded_redis
from webapp.db import database, is_sqlite
from webapp.migrations import migrate
from webapp.models import ALL_MODELS

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
POSTGRES_DATABASE = os.environ.get("BENCH_POSTGRES_DATABASE", "entra_bench")  # dropped and made anew by each run


class Stage:
    """Everything one benchmark run talks to, started once and shared by the scenarios."""

    def __init__(self, workdir, fake, redis_url):
        self.workdir = Path(workdir)
        self.fake = fake
        self.redis_url = redis_url
        self.redis = redis.Redis.from_url(redis_url)
        self.encryption_key = Fernet.generate_key().decode()
        self.tenant = None
        self.app = None
        self.database_url = None

    def environment(self):
        """What a worker process needs to find the same database, Redis and Microsoft."""
        return dict(os.environ, DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
                    ENCRYPTION_KEY=self.encryption_key, ENTRA_AUTHORITY_URL=self.fake.authority_url,
                    GRAPH_API_URL=self.fake.graph_url, SECRET_KEY="bench", PYTHONPATH=str(ROOT))

    def use_database(self, kind, postgres_name=POSTGRES_DATABASE):
        """Bind an empty database of this kind and build the app on it."""
        self.database_url = (f"sqlite:///{self.workdir / 'bench.sqlite3'}" if kind == "sqlite"
                             else postgres_database(postgres_name))
        if kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.workdir / 'bench.sqlite3'}{suffix}").unlink(missing_ok=True)
        self.app = create_app({
            "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "SECRET_KEY": "bench",
            "ENCRYPTION_KEY": self.encryption_key, "ENTRA_AUTHORITY_URL": self.fake.authority_url,
            "GRAPH_API_URL": self.fake.graph_url, "WTF_CSRF_ENABLED": False, "INSTANCE_DIR": self.workdir,
        })
        migrate()
        database.connect(reuse_if_open=True)

    def empty_database(self):
        """Drop every row (between sizes), keeping the schema. PostgreSQL truncates, as a new database would be:
        deleted rows would stay behind as dead tuples in the tables and indexes until autovacuum came by."""
        with database.atomic():
            if is_sqlite():
                for model in reversed(ALL_MODELS):
                    model.delete().execute()
            else:
                tables = ", ".join(f'"{model._meta.table_name}"' for model in ALL_MODELS)
                database.execute_sql(f"TRUNCATE {tables} CASCADE")
        self.redis.flushdb()

    @contextmanager
    def worker(self, forking=False, env=None):
        """One `rq worker` on the sync queue (the Procfile's forking one, or one that runs jobs in-process so
        its peak memory is the job's; both import the sync code before the first job); yields its pid once it
        listens. `env` replaces the stage's environment."""
        worker_class = "worker.rq_worker.SyncWorker" if forking else "bench.worker.PreloadedSimpleWorker"
        command = [str(Path(sys.executable).parent / "rq"), "worker", "--url", self.redis_url, "--quiet",
                   "--path", str(ROOT), "--worker-class", worker_class, "sync"]
        before = set(self.redis.smembers("rq:workers"))
        process = subprocess.Popen(command, env=env or self.environment(), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=open(self.workdir / "worker.log", "ab"))
        deadline = time.monotonic() + 30
        while set(self.redis.smembers("rq:workers")) == before:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rq worker did not start; see {self.workdir / 'worker.log'}")
            time.sleep(0.05)
        try:
            yield process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


def peak_rss_mb(pid):
    """The process's peak resident set size so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def postgres_database(name):
    """A fresh, empty PostgreSQL database for the benchmark."""
    admin = psycopg2.connect(POSTGRES_URL, connect_timeout=3)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    admin.close()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


@contextmanager
def stage(workdir, users):
    """Start fake_entra (with a seeded tenant of `users` users) and a private Redis."""
    redis_url, redis_process = embedded_redis.start(Path(workdir) / "redis")
    try:
        with FakeEntra.start() as fake:
            bench = Stage(workdir, fake, redis_url)
            bench.tenant = fake.control.create_tenant(seed=2026, users=users, groups=20, big_group_size=users,
                                                      name="Bench Tenant", domain="bench.onmicrosoft.com")
            yield bench
    finally:
        redis_process.terminate()
        redis_process.wait(timeout=10)
