"""A first sync writes each page of the group while the next one is read, at most two pages ahead of what is
written, and removes nobody before the whole group is read and verified."""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.worker.conftest import connect, emails_of, run_of, run_worker
from webapp.engine.lifecycle import APPLIED_BEFORE, queue_run
from webapp.models import SyncOutcome, SyncRun

PAGE = 999
MEMBER_PAGES = "GET /groups/{id}/transitiveMembers/microsoft.graph.user"


@pytest.fixture
def big_tenant(fake_entra):
    return fake_entra.control.create_tenant(seed=11, users=8000, groups=2, big_group_size=8000)


@pytest.fixture
def first_sync_team(app, make_team, make_leader_of, big_tenant):
    """An empty team (its leader and three members not in the group) on a group of 8,000 users (nine pages)."""
    team = make_team("Read Ahead Academy", members=3)
    make_leader_of(team)
    connect(app, team, tenant_id=big_tenant["tenant_id"], client_id=big_tenant["app"]["client_id"],
            secret=big_tenant["app"]["client_secret"], group_id=big_tenant["big_group_id"], allow_deletion=True)
    return team


def watch_run(team, redis_connection, worker_env, fake_entra):
    """Run one sync with a real worker while sampling, every few milliseconds, how many member pages fake_entra
    has served and how many of the run's outcomes are written; returns (run, samples)."""
    fake_entra.control.reset_counts()
    run = queue_run(team.id, "manual", redis_connection)
    samples = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        worker = pool.submit(run_worker, worker_env)
        while not worker.done():
            pages = fake_entra.control.counts().get(MEMBER_PAGES, 0)  # first the pages, then what is written
            written = SyncOutcome.select().where(SyncOutcome.run == run.id).count()
            samples.append((pages, written, SyncRun.get_by_id(run.id).status))
            time.sleep(0.005)
        assert worker.result().returncode == 0
    return run_of(run.id), samples


def test_pages_are_written_while_the_next_ones_are_read(first_sync_team, redis_connection, worker_env,
                                                        fake_entra):
    fake_entra.control.set_latency(request=0.25)
    run, samples = watch_run(first_sync_team, redis_connection, worker_env, fake_entra)
    assert run.status == "succeeded" and run.removed == 3
    pages = -(-8000 // PAGE)
    overlapped = [(served, written) for served, written, _ in samples if written and served < pages]
    assert overlapped, "users of the first pages were written before the last page was read"
    assert len(emails_of(first_sync_team)) == 1 + run.added


def test_the_reader_stays_at_most_two_pages_ahead_of_the_writer(first_sync_team, redis_connection, worker_env,
                                                                fake_entra):
    """fake_entra answers far faster than a database writes: a reader that did not wait would have every page
    out at once. Each page's outcomes are written before its users, so `written` counts whole pages read."""
    run, samples = watch_run(first_sync_team, redis_connection, worker_env, fake_entra)
    assert run.status == "succeeded"
    assert max(served for served, _, _ in samples) >= 8
    for served, written, status in samples:
        if status == "running" and served > 2:
            assert written >= (served - 2) * PAGE, f"page {served} was asked for with {written} outcomes written"


def test_a_fault_mid_read_removes_nobody_and_says_what_it_wrote(first_sync_team, redis_connection, worker_env,
                                                                fake_entra):
    members_before = emails_of(first_sync_team)
    fake_entra.control.inject(503, retry_after=0.05, count=None, page=6, path="transitiveMembers/microsoft.graph.user")
    run, samples = watch_run(first_sync_team, redis_connection, worker_env, fake_entra)
    assert (run.status, run.error) == ("failed", "Microsoft is temporarily unavailable: try again in a few minutes."
                                       + APPLIED_BEFORE)
    assert run.removed == 0 and members_before <= emails_of(first_sync_team)
    assert 4 * PAGE < run.added + run.skipped_disabled <= 5 * PAGE  # the five pages before the fault
    actions = {row.action for row in SyncOutcome.select().where(SyncOutcome.run == run.id)}
    assert not actions & {"removed", "would_remove"}
