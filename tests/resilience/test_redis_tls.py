"""Redis over TLS (rediss://) as Heroku offers it, with a self-signed chain: certificate checking is on unless the
URL or REDIS_SSL_CERT_REQS turns it off, and REDIS_SSL_CA_CERTS can name the authority to trust instead."""
import ssl
import subprocess
import time

import pytest
import redis

from fake_entra.tls import CERT_FILE, KEY_FILE, write_certificates
from webapp import config
from webapp.embedded_redis import free_port

DEV = {"ENTRA_SYNC_ENV": "test"}


def options(url, **environ):
    return config.redis_options(url, config.load({**DEV, "REDIS_URL": url, **environ}))


def client(url, **environ):
    return config.redis_client(config.load({**DEV, "REDIS_URL": url, **environ}), socket_timeout=5,
                               socket_connect_timeout=5)


def test_a_plain_url_needs_no_tls_options_and_a_rediss_url_checks_certificates_by_default():
    assert options("redis://127.0.0.1:6379/0") == {}
    assert options("rediss://:secret@example.com:6380") == {"ssl_cert_reqs": "required"}
    assert options("rediss://example.com:6380", REDIS_SSL_CERT_REQS="none",
                   REDIS_SSL_CA_CERTS="/etc/ca.pem") == {"ssl_cert_reqs": "none", "ssl_ca_certs": "/etc/ca.pem"}


def test_the_urls_own_ssl_cert_reqs_wins_over_the_setting():
    url = "rediss://example.com:6380/0?ssl_cert_reqs=none"
    pool = client(url).connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["ssl_cert_reqs"] == "none"


def test_a_misspelt_certificate_setting_is_refused_by_name():
    with pytest.raises(config.ConfigError, match="REDIS_SSL_CERT_REQS must be one of required, optional, none"):
        config.load({**DEV, "REDIS_SSL_CERT_REQS": "off"})


def answers(url):
    try:
        return client(url, REDIS_SSL_CERT_REQS="none").ping()
    except redis.ConnectionError:
        return False


@pytest.fixture
def tls_redis(tmp_path):
    """A redis-server answering only TLS, with a certificate of a local authority no system trusts."""
    ca_file = write_certificates(tmp_path)
    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                                "--tls-cert-file", str(tmp_path / CERT_FILE),
                                "--tls-key-file", str(tmp_path / KEY_FILE),
                                "--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no", "--save", "",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    url = f"rediss://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not answers(url):
        assert time.monotonic() < deadline and process.poll() is None, "redis-server did not start with TLS"
        time.sleep(0.05)
    yield url, ca_file
    process.terminate()
    process.wait(timeout=10)


def test_a_self_signed_tls_redis_is_refused_by_default_and_reached_when_told_how(tls_redis):
    url, ca_file = tls_redis
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        client(url).ping()
    assert client(url, REDIS_SSL_CERT_REQS="none").ping()
    assert client(url + "?ssl_cert_reqs=none").ping()
    assert client(url, REDIS_SSL_CA_CERTS=str(ca_file)).ping()
    assert client(url, REDIS_SSL_CA_CERTS=str(ca_file)).connection_pool.make_connection().cert_reqs == ssl.CERT_REQUIRED
