"""Run localstripe, the local Stripe stand-in, for development and tests.

Our own launcher around the `localstripe` package. It:

- listens on IPv4 loopback and keeps its state in memory only (the package
  pickles its whole store to a fixed path in /tmp after every write, which is
  slow and shared between instances);
- accepts `cancellation_reason` on PaymentIntent cancellation, as Stripe does;
- shows a charge's card (brand, last four digits) under
  `payment_method_details.card`, as Stripe does;
- accepts client-side confirmation of a PaymentIntent with the publishable
  key and the client secret (`POST /v1/payment_intents/{id}/confirm` with
  `key`, `client_secret` and `payment_method_data[card]`), which is what
  Stripe.js does in a browser and localstripe lacks. Card data goes from the
  browser (or test) to the stand-in, never to our server.

    python -m server.devtools.stripe_standin --port 8420
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

_CONFIRM_PATH = re.compile(r"^/v1/payment_intents/(pi_\w+)/confirm$")


def _patch_store(resources: Any) -> None:
    type(resources.store).dump_to_disk = lambda self: None
    type(resources.store).try_load_from_disk = lambda self: None


def _patch_cancel(resources: Any, server: Any) -> None:
    original_cancel = resources.PaymentIntent._api_cancel.__func__

    def cancel(cls: Any, /, id: Any, cancellation_reason: Any = None, **kwargs: Any) -> Any:
        return original_cancel(cls, id, **kwargs)

    resources.PaymentIntent._api_cancel = classmethod(cancel)
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if info.get("formatter") == "/v1/payment_intents/{id}/cancel":
            route._handler = server.api_extra(resources.PaymentIntent._api_cancel, "")


def _patch_charge_card(resources: Any) -> None:
    """Charges report their card as Stripe's do: `payment_method_details.card`."""

    def payment_method_details(charge: Any) -> dict[str, Any] | None:
        if not str(charge.payment_method).startswith("pm_"):
            return None  # a legacy card or source: not what our server creates
        method = resources.PaymentMethod._api_retrieve(charge.payment_method)
        if method.type != "card":
            return None
        card = {key: method.card[key] for key in ("brand", "last4", "exp_month", "exp_year")}
        return {"type": "card", "card": card}

    resources.Charge.payment_method_details = property(payment_method_details)


def _client_confirm_middleware(resources: Any, errors: Any) -> Any:
    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

    @web.middleware
    async def client_confirm(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = _CONFIRM_PATH.match(request.path)
        if request.method != "POST" or match is None:
            return await handler(request)
        raw = await request.read()
        try:
            data = json.loads(raw) if raw.strip().startswith(b"{") else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not str(data.get("key", "")).startswith("pk_"):
            return await handler(request)
        try:
            intent = resources.PaymentIntent._api_retrieve(match.group(1))
            if data.get("client_secret") != intent.client_secret:
                raise errors.UserError(401, "Unauthorized")
            card = (data.get("payment_method_data") or {}).get("card")
            if not isinstance(card, dict):
                raise errors.UserError(400, "payment_method_data[card] is required")
            method = resources.PaymentMethod._api_create(type="card", card=card)
            if intent.status not in ("requires_payment_method", "requires_confirmation"):
                raise errors.UserError(400, f"PaymentIntent is {intent.status}")
            intent.payment_method = method.id
            intent.latest_charge = None
            resources.PaymentIntent._api_confirm(intent.id)
        except errors.UserError as error:
            response: web.StreamResponse = error.to_response()
            return response
        return web.json_response(intent._export())

    return client_confirm


def build_app() -> web.Application:
    from localstripe import errors, resources, server

    _patch_store(resources)
    _patch_cancel(resources, server)
    _patch_charge_card(resources)
    app: web.Application = server.app
    app.middlewares.insert(0, _client_confirm_middleware(resources, errors))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(build_app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
