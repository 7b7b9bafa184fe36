"""python -m fake_entra: serve a local stand-in for Microsoft's sign-in (login.microsoftonline.com) and
Graph (graph.microsoft.com/v1.0) on one port, for development and tests; never for production."""

from __future__ import annotations

import argparse
import json
import logging
import os
import ssl
import tempfile
import threading
import time
from pathlib import Path

from fake_entra.server import Emulator, serve
from fake_entra.tls import server_context, write_certificates

EPILOG = """\
HTTPS: with --tls it serves https:// with a certificate for 127.0.0.1 and localhost signed by a CA it
creates at start-up; it prints "fake_entra CA certificate: PATH" before the listening line. Clients trust it
with REQUESTS_CA_BUNDLE=PATH (requests, MSAL, azure-identity), SSL_CERT_FILE=PATH (httpx, the ssl module)
or verify=PATH. MSAL and the Graph SDKs accept only https authorities.

Faults and test state (not Microsoft's surface) are driven over HTTP under /_fake/: POST /_fake/faults
{status, retry_after, delay, count, path, method, page, truncate, count_offset} arms errors, slowness or
short listings; POST /_fake/throttling {enabled, limit, window} turns on Graph's resource-unit budgets;
POST /_fake/latency {request, per_object} sets how long Graph answers take;
POST /_fake/token-lifetime {access, refresh, code} shortens token lifetimes; POST /_fake/tenants/{t}/delta/expire
expires delta links; POST /_fake/reset restores the initial state. fake_entra/README.md lists them all.
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line: where to listen, which directory to serve, and how Microsoft-like to be."""
    parser = argparse.ArgumentParser(prog="python -m fake_entra", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5005, help="0 picks a free port")
    parser.add_argument("--seed", type=int, help="add a generated tenant built from this seed")
    parser.add_argument("--users", type=int, default=1000, help="users of the generated tenant")
    parser.add_argument("--groups", type=int, default=50, help="groups of the generated tenant")
    parser.add_argument("--big-group-size", type=int, help="users in its 'All Staff' group (default: all)")
    parser.add_argument("--data", help="JSON file with extra tenants, apps and consent")
    parser.add_argument("--index-lag", type=float, default=0.0, metavar="SECONDS",
                        help="advanced queries (ConsistencyLevel: eventual member reads, $search) see group "
                             "membership as it was this many seconds ago, like Graph's index; delta stays current")
    parser.add_argument("--latency", type=float, default=float(os.environ.get("FAKE_ENTRA_LATENCY", 0)),
                        metavar="SECONDS", help="every Graph answer waits this long (Microsoft's round trip and "
                                                "service time; env FAKE_ENTRA_LATENCY)")
    parser.add_argument("--latency-per-object", type=float,
                        default=float(os.environ.get("FAKE_ENTRA_LATENCY_PER_OBJECT", 0)), metavar="SECONDS",
                        help="and this long more for each object it returns (env FAKE_ENTRA_LATENCY_PER_OBJECT)")
    parser.add_argument("--throttling", action="store_true",
                        default=os.environ.get("FAKE_ENTRA_THROTTLING", "") == "1",
                        help="enforce Graph's resource-unit budgets from the start (env FAKE_ENTRA_THROTTLING=1)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a generated certificate (see below)")
    parser.add_argument("--tls-dir", help="where --tls writes its CA, certificate and key (default: a new "
                                          "temporary directory)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the launching process dies")
    return parser


def emulator_from(options: argparse.Namespace, parser: argparse.ArgumentParser) -> Emulator:
    """The directory and behaviour the options ask for; out-of-range options end the program with a usage error."""
    if not 0 <= options.index_lag <= 3600:
        parser.error("--index-lag must be between 0 and 3600 seconds")
    if not (0 <= options.latency <= 60 and 0 <= options.latency_per_object <= 1):
        parser.error("--latency must be between 0 and 60 seconds, --latency-per-object between 0 and 1")
    generate_args = None
    if options.seed is not None:
        generate_args = {"seed": options.seed, "users": options.users, "groups": options.groups,
                         "big_group_size": options.big_group_size}
    data = None
    if options.data:
        with open(options.data, encoding="utf-8") as handle:
            data = json.load(handle)
    return Emulator(generate_args, data, options.index_lag, (options.latency, options.latency_per_object),
                    options.throttling)


def tls_context(options: argparse.Namespace) -> ssl.SSLContext | None:
    """With --tls, a server context for a certificate signed by a new CA, whose path is printed for clients."""
    if not options.tls:
        return None
    tls_dir = Path(options.tls_dir or tempfile.mkdtemp(prefix="fake-entra-tls-"))
    hosts = tuple(dict.fromkeys((options.host, "127.0.0.1", "localhost")))
    print(f"fake_entra CA certificate: {write_certificates(tls_dir, hosts)}", flush=True)
    return server_context(tls_dir)


def main(argv: list[str] | None = None) -> None:
    """Parse options, build the directory and serve until interrupted."""
    parser = build_parser()
    options = parser.parse_args(argv)
    # Request logging costs time during big listings, so it is opt-in.
    logging.getLogger("werkzeug").setLevel(logging.INFO if options.verbose else logging.ERROR)
    emulator = emulator_from(options, parser)
    if options.exit_with_parent:
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    context = tls_context(options)
    server = serve(emulator, options.host, options.port, context)
    scheme = "https" if context else "http"
    print(f"fake_entra listening on {scheme}://{options.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def watch_parent(parent: int) -> None:
    """Exit once the parent is gone, so a killed test run leaves no server holding a port."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


if __name__ == "__main__":
    main()
