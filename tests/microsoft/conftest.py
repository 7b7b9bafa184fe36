"""Fixtures for the Microsoft client tests: a virtual clock so retry waits take no time."""

import pytest

from webapp.microsoft import RetryPolicy, Transport

AUTHORITY = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com/v1.0"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "4d856d1f-8648-456c-9bb2-f36273bbe4e3"
CLIENT_SECRET = "Qx8Q~s3cr3t-VALUE-never-shown~AbCdEfGhIjKl"


class VirtualClock:
    """A monotonic clock that only moves when code sleeps; remembers every wait."""

    def __init__(self):
        self.now = 1000.0
        self.waits = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return VirtualClock()


@pytest.fixture
def transport(clock):
    """A transport on the virtual clock with the default retry policy."""
    return Transport(retry=RetryPolicy(), sleep=clock.sleep, clock=clock)
