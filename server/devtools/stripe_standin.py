"""Run localstripe, the local Stripe stand-in, for development and tests.

Our own launcher around the `localstripe` package: it listens on IPv4
loopback, keeps its state in memory only (the package pickles its whole
store to a fixed path in /tmp after every write, which is slow and shared
between instances), and accepts `cancellation_reason` on PaymentIntent
cancellation as real Stripe does.

    python -m server.devtools.stripe_standin --port 8420
"""

from __future__ import annotations

import argparse
import logging
from typing import Any


def build_app() -> Any:
    from localstripe import resources, server

    type(resources.store).dump_to_disk = lambda self: None
    type(resources.store).try_load_from_disk = lambda self: None

    original_cancel = resources.PaymentIntent._api_cancel.__func__

    def cancel(cls: Any, /, id: Any, cancellation_reason: Any = None, **kwargs: Any) -> Any:
        return original_cancel(cls, id, **kwargs)

    resources.PaymentIntent._api_cancel = classmethod(cancel)
    for route in server.app.router.routes():
        if route.resource is not None and route.resource.canonical == (
            "/v1/payment_intents/{id}/cancel"
        ):
            route._handler = server.api_extra(resources.PaymentIntent._api_cancel, "")
    return server.app


def main() -> None:
    from aiohttp import web

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(build_app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
