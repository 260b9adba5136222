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
  browser (or test) to the stand-in, never to our server. A saved card may be
  named instead (`payment_method`: its id), as Stripe.js does when a buyer
  authenticates an off-session charge their bank refused;
- saves cards as Stripe does: a SetupIntent for a deleted Customer is a 404;
  one confirmed (by the browser's `confirmCardSetup`) attaches its
  PaymentMethod to the SetupIntent's Customer and sends
  `setup_intent.succeeded`; a detachment sends `payment_method.detached`;
- sends each webhook to the endpoints registered when its event happened
  (server.devtools.standin_webhooks), as Stripe does;
- answers off-session charges as Stripe does (`off_session=true, confirm=true`):
  a card that wants 3-D Secure is refused with a 402 `authentication_required`,
  a declined card with a 402 `card_declined`, each error carrying the
  PaymentIntent (left `requires_payment_method`, payable on-session), and
  `payment_intent.payment_failed` is sent; a PaymentMethod not attached to the
  Customer is refused.

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

from server.devtools.standin_webhooks import patch_webhook_endpoints

_CONFIRM_PATH = re.compile(r"^/v1/payment_intents/(pi_\w+)/confirm$")
_NEEDS_3DS = "Your card requires authentication to complete this payment off-session."


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
            method = _client_method(resources, errors, data)
            if intent.status not in ("requires_payment_method", "requires_confirmation"):
                raise errors.UserError(400, f"PaymentIntent is {intent.status}")
            intent.payment_method = method.id
            intent.latest_charge = None
            intent._off_session_error = None
            resources.PaymentIntent._api_confirm(intent.id)
        except errors.UserError as error:
            response: web.StreamResponse = error.to_response()
            return response
        return web.json_response(intent._export())

    return client_confirm


def _client_method(resources: Any, errors: Any, data: dict[str, Any]) -> Any:
    """The card a browser confirms with: new card data, or a saved card's id."""
    saved = data.get("payment_method")
    if isinstance(saved, str) and saved.startswith("pm_"):
        return resources.PaymentMethod._api_retrieve(saved)
    card = (data.get("payment_method_data") or {}).get("card")
    if not isinstance(card, dict):
        raise errors.UserError(400, "payment_method_data[card] is required")
    return resources.PaymentMethod._api_create(type="card", card=card)


def _patch_setup_intents(resources: Any, server: Any, webhooks: Any) -> None:
    """A confirmed SetupIntent attaches its card to its Customer and says so (webhook)."""
    original_confirm = resources.SetupIntent._api_confirm.__func__

    def confirm(cls: Any, /, id: Any, **kwargs: Any) -> Any:
        before = cls._api_retrieve(id).status if isinstance(id, str) else None
        obj = original_confirm(cls, id, **kwargs)
        if obj.status == "succeeded" and before != "succeeded":
            if obj.customer is not None:
                resources.PaymentMethod._api_retrieve(obj.payment_method).customer = obj.customer
            webhooks.schedule_webhook(resources.Event("setup_intent.succeeded", obj))
        return obj

    resources.SetupIntent._api_confirm = classmethod(confirm)
    original_create = resources.SetupIntent._api_create.__func__

    def create(cls: Any, /, customer: Any = None, **kwargs: Any) -> Any:
        if isinstance(customer, str):
            resources.Customer._api_retrieve(customer)  # 404 for a deleted one, as Stripe
        return original_create(cls, customer=customer, **kwargs)

    resources.SetupIntent._api_create = classmethod(create)
    original_detach = resources.PaymentMethod._api_detach.__func__

    def detach(cls: Any, /, id: Any, **kwargs: Any) -> Any:
        obj = original_detach(cls, id, **kwargs)
        webhooks.schedule_webhook(resources.Event("payment_method.detached", obj))
        return obj

    resources.PaymentMethod._api_detach = classmethod(detach)
    handlers = {
        "/v1/setup_intents/{id}/confirm": resources.SetupIntent._api_confirm,
        "/v1/payment_methods/{id}/detach": resources.PaymentMethod._api_detach,
    }
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if info.get("formatter") in handlers:
            route._handler = server.api_extra(handlers[info["formatter"]], "")


def _patch_off_session(resources: Any, errors: Any, webhooks: Any) -> None:
    """Off-session charges answer as Stripe's do: a 402 carrying the intent."""
    intents = resources.PaymentIntent
    original_create = intents._api_create.__func__
    original_error = intents.last_payment_error

    def last_payment_error(intent: Any) -> Any:
        error = getattr(intent, "_off_session_error", None) or original_error.fget(intent)
        charge = intent.latest_charge
        if isinstance(error, dict) and "payment_method" not in error and charge is not None:
            # Stripe names the card that failed; localstripe leaves it out.
            error = {**error, "payment_method": {"id": charge.payment_method}}
        return error

    intents.last_payment_error = property(last_payment_error)

    def refused(intent: Any, method: Any, code: str, message: str) -> Any:
        body = {
            "code": code,
            "decline_code": code,
            "payment_intent": intent._export(),
            "payment_method": method._export(),
        }
        error = errors.UserError(402, message, body)
        error.body["error"]["type"] = "card_error"
        return error

    def create(cls: Any, /, confirm: Any = None, off_session: Any = None, **data: Any) -> Any:
        off = str(off_session).lower() == "true" and str(confirm).lower() == "true"
        if not off:
            return original_create(cls, confirm=confirm, off_session=off_session, **data)
        customer, method_id = data.get("customer"), data.get("payment_method")
        method = resources.PaymentMethod._api_retrieve(method_id) if method_id else None
        if method is None or customer is None or method.customer != customer:
            raise errors.UserError(
                400,
                "The PaymentMethod is not attached to this Customer",
                {"code": "payment_method_not_attached"},
            )
        intent = original_create(cls, **data)
        if method._requires_authentication():
            intent.payment_method = None
            intent._off_session_error = {
                "code": "authentication_required",
                "decline_code": "authentication_required",
                "message": _NEEDS_3DS,
                "payment_method": {"id": method.id},
            }
            webhooks.schedule_webhook(resources.Event("payment_intent.payment_failed", intent))
            raise refused(intent, method, "authentication_required", _NEEDS_3DS)
        try:
            intent._confirm(on_failure_now=intent._report_failure)
        except errors.UserError as error:
            if error.code != 402:
                raise
            raise refused(intent, method, "card_declined", "Your card was declined.") from None
        return intent

    intents._api_create = classmethod(create)


def build_app() -> web.Application:
    from localstripe import errors, resources, server, webhooks

    _patch_store(resources)
    _patch_cancel(resources, server)
    _patch_charge_card(resources)
    _patch_setup_intents(resources, server, webhooks)
    _patch_off_session(resources, errors, webhooks)
    patch_webhook_endpoints(webhooks)
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
