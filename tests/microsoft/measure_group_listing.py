"""Measure listing a large group through the client: python -m tests.microsoft.measure_group_listing [users]."""

import sys
import time

from fake_entra.testing import FakeEntra
from webapp.microsoft import AppOnlyTokenProvider, GraphClient


def measure(users):
    """Start fake_entra with a generated tenant of `users` users in one group and time a full listing."""
    with FakeEntra.start(seed=7, users=users, groups=20, timeout=600) as server:
        tenant = server.generated[0]
        provider = AppOnlyTokenProvider(server.authority_url, tenant["tenant_id"], tenant["app"]["client_id"],
                                        tenant["app"]["client_secret"])
        graph = GraphClient(server.graph_url, provider)
        provider.access_token()
        started = time.perf_counter()
        listed = sum(len(page) for page in graph.iter_group_user_pages(tenant["big_group_id"]))
        elapsed = time.perf_counter() - started
        print(f"{listed} users listed in {elapsed:.2f}s with {graph.request_count} Graph requests")


if __name__ == "__main__":
    measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
