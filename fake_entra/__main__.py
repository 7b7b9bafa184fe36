"""python -m fake_entra: serve the emulator on one port."""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
import time

from fake_entra.server import Emulator, serve


def main(argv: list[str] | None = None) -> None:
    """Parse options, build the directory and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m fake_entra", description=__doc__)
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
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the launching process dies")
    options = parser.parse_args(argv)
    # Request logging costs time during big listings, so it is opt-in.
    logging.getLogger("werkzeug").setLevel(logging.INFO if options.verbose else logging.ERROR)
    generate_args = None
    if options.seed is not None:
        generate_args = {"seed": options.seed, "users": options.users, "groups": options.groups,
                         "big_group_size": options.big_group_size}
    data = None
    if options.data:
        with open(options.data, encoding="utf-8") as handle:
            data = json.load(handle)
    if options.exit_with_parent:
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    if not 0 <= options.index_lag <= 3600:
        parser.error("--index-lag must be between 0 and 3600 seconds")
    emulator = Emulator(generate_args, data, options.index_lag)
    server = serve(emulator, options.host, options.port)
    print(f"fake_entra listening on http://{options.host}:{server.server_port}", flush=True)
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
