"""Run localstripe (a local fake Stripe) for the demo and the tests.

Usage: python scripts/localstripe_server.py --port 8420 [--store PATH]

localstripe keeps its whole state in one hard-coded file (/tmp/localstripe.pickle) that it
rewrites on every change; two instances (the demo's and a test session's) would overwrite each
other. This wrapper gives each instance its own file, or none (memory only, for the tests).
"""

import argparse
import pickle
import socket
import sys

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--store", default="", help="state file; empty = memory only")
    args = parser.parse_args()

    store_cls = type(resources.store)
    if args.store:

        def load(self) -> None:
            try:
                with open(args.store, "rb") as f:
                    self.clear()
                    self.update(pickle.load(f))  # noqa: S301 - our own state file
            except (FileNotFoundError, EOFError, pickle.UnpicklingError):
                pass

        def dump(self) -> None:
            with open(args.store, "wb") as f:
                pickle.dump(dict(self), f, protocol=pickle.HIGHEST_PROTOCOL)

        store_cls.try_load_from_disk = load
        store_cls.dump_to_disk = dump
        resources.store.try_load_from_disk()
    else:
        store_cls.dump_to_disk = lambda self: None

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    print(f"localstripe listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    web.run_app(server.app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
