"""Pytest plugin: one fake_entra subprocess per test session (per xdist worker)."""

from __future__ import annotations

import pytest

from fake_entra.testing import FakeEntra


@pytest.fixture(scope="session")
def fake_entra_server():
    """The running emulator with the demo data set, shared by a whole session."""
    with FakeEntra.start() as server:
        yield server


@pytest.fixture
def fake_entra(fake_entra_server):
    """The emulator reset to its initial data, without faults, tokens or counts."""
    fake_entra_server.control.reset()
    return fake_entra_server


@pytest.fixture(scope="session")
def fake_entra_tls_server():
    """A second emulator serving HTTPS (its CA in `ca_file`), for clients that refuse plain http."""
    with FakeEntra.start(tls=True) as server:
        yield server


@pytest.fixture
def fake_entra_tls(fake_entra_tls_server):
    """The HTTPS emulator reset to its initial data."""
    fake_entra_tls_server.control.reset()
    return fake_entra_tls_server
