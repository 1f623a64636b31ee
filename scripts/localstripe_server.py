"""Run localstripe (a local fake Stripe) for the demo and the tests.

Usage: python scripts/localstripe_server.py --port 8420 [--store PATH]

localstripe keeps its whole state in one hard-coded file (/tmp/localstripe.pickle) that it
rewrites on every change; two instances (the demo's and a test session's) would overwrite each
other. This wrapper gives each instance its own file, or none (memory only, for the tests).
"""

import argparse
import asyncio
import datetime
import hashlib
import pickle
import socket
import sys
from pathlib import Path

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

# --- Card details: Stripe's own messages, not "Bad request" ------------------------------------
# localstripe refuses any card detail it does not like with a bare 400 "Bad request", which our
# card form can only repeat. Real Stripe answers a 402 card_error with a code and a sentence for
# the person typing; checked here first, in Stripe's words.


def card_error(code: str, param: str, message: str) -> UserError:
    error = UserError(402, message, {"code": code, "param": param})
    error.body["error"]["type"] = "card_error"
    return error


def _as_int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def check_card(card: dict) -> None:
    number = str(card.get("number") or "").replace(" ", "")
    if not (number.isdigit() and len(number) == 16):
        raise card_error("invalid_number", "number", "Your card number is invalid.")
    month, year = _as_int(card.get("exp_month")), _as_int(card.get("exp_year"))
    if month is None or not 1 <= month <= 12:
        raise card_error(
            "invalid_expiry_month", "exp_month", "Your card's expiration month is invalid."
        )
    if year is not None and 0 <= year < 100:
        year += 2000
    if year is None or not 2000 <= year < 2100:
        raise card_error(
            "invalid_expiry_year", "exp_year", "Your card's expiration year is invalid."
        )
    today = datetime.datetime.now(datetime.UTC).date()
    if year < today.year:
        raise card_error(
            "invalid_expiry_year", "exp_year", "Your card's expiration year is in the past."
        )
    if (year, month) < (today.year, today.month):
        raise card_error(
            "invalid_expiry_month", "exp_month", "Your card's expiration date is in the past."
        )
    cvc = str(card.get("cvc") or "")
    if not (cvc.isdigit() and len(cvc) == 3):
        raise card_error("invalid_cvc", "cvc", "Your card's security code is invalid.")


_payment_method_init = resources.PaymentMethod.__init__


def payment_method_init(self, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
    if kwargs.get("type") == "card" and isinstance(kwargs.get("card"), dict):
        check_card(kwargs["card"])
    _payment_method_init(self, *args, **kwargs)


resources.PaymentMethod.__init__ = payment_method_init

# --- The fake Stripe.js card field: a four-digit year ------------------------------------------
# Its year box prefixes "20" to whatever is typed ("2030" became 202030) and jumps to the CVC
# after two digits. Real Stripe takes MM / YY; this takes "30" or "2030", and stays put.
FAKE_JS = (Path(server.__file__).parent / "localstripe-v3.js").read_text()
PATCHES = [
    (
        "exp_year: '20' + this._inputs.exp_year.value,",
        "exp_year: (this._inputs.exp_year.value.length > 2 ? '' : '20') +\n"
        "                    this._inputs.exp_year.value,",
    ),
    (
        "} else if (event.target === this._inputs.exp_year &&\n"
        "                 this.value.card.exp_year.length >= 4) {",
        "} else if (event.target === this._inputs.exp_year &&\n"
        "                 this._inputs.exp_year.value.length >= 4) {",
    ),
]
for before, after in PATCHES:
    if before not in FAKE_JS:  # a new localstripe: look at its card field again
        raise SystemExit(f"localstripe-v3.js changed; cannot patch: {before!r}")
    FAKE_JS = FAKE_JS.replace(before, after)


@web.middleware
async def patched_stripe_js(request: web.Request, handler):  # noqa: ANN001, ANN201
    if request.path == "/js.stripe.com/v3/":
        return web.Response(text=FAKE_JS, content_type="application/javascript")
    return await handler(request)


server.app.middlewares.append(patched_stripe_js)


# --- Idempotency keys, as Stripe honours them --------------------------------------------------
# localstripe ignores the Idempotency-Key header, so a repeated create (a retry after a crash, the
# resume task) would charge again. Like Stripe: the first answer to a key is kept and replayed
# for the same request; the same key with other parameters is refused; a request still in
# flight with that key makes the second one wait for its answer. Errors are not kept (Stripe
# keeps 4xx answers; here the caller's retry would only meet the same refusal again).
_key_locks: dict[str, asyncio.Lock] = {}


def _answer_key(key: str) -> str:
    return f"idempotency:{key}"  # no localstripe object type starts with this prefix


@web.middleware
async def idempotent_posts(request: web.Request, handler):  # noqa: ANN001, ANN201
    key = request.headers.get("Idempotency-Key", "")
    if request.method != "POST" or not key:
        return await handler(request)
    fingerprint = hashlib.sha256(request.path.encode() + b"?" + await request.read()).hexdigest()
    lock = _key_locks.setdefault(key, asyncio.Lock())
    async with lock:
        kept = resources.store.get(_answer_key(key))
        if kept is not None:
            if kept["fingerprint"] != fingerprint:
                return web.json_response(
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the "
                            "same parameters they were first used with.",
                        }
                    },
                    status=400,
                )
            response = web.Response(
                body=kept["body"], status=kept["status"], content_type="application/json"
            )
            response.headers["Idempotent-Replayed"] = "true"
            return response
        response = await handler(request)
        if 200 <= response.status < 300 and isinstance(response.body, bytes):
            resources.store[_answer_key(key)] = {
                "fingerprint": fingerprint,
                "status": response.status,
                "body": response.body,
            }
        return response


server.app.middlewares.append(idempotent_posts)

# --- Listing PaymentIntents of a customer (GET /v1/payment_intents?customer=...) ------------
# Stripe filters the list by customer; localstripe refuses any filter. The charge engine looks
# up what it paid for an intent this way (by metadata), never by a cache entry.
_list_payment_intents = resources.PaymentIntent._api_list_all.__func__


def _payment_intents_list(cls, url, customer=None, **kwargs):  # noqa: ANN001, ANN202
    found = _list_payment_intents(cls, url, **kwargs)
    if customer is not None:
        found._list = [item for item in found._list if item.customer == customer]
    return found


resources.PaymentIntent._api_list_all = classmethod(_payment_intents_list)


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
