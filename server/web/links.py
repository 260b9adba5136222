"""Receipts and invoices that open from a link (`server.core.signed_links`).

`POST .../receipt-link` (or `.../link` for an invoice), made with the viewer's
bearer token, answers `{url, expires_at}`; the URL opens the printable page
with no header, as the viewer, until it lapses. The page is the same one
`Accept: text/html` gives on the bearer endpoints (JSON for `Accept:
application/json`). A refused link is explained in a small page of its own
when a browser opened it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape
from typing import Any
from urllib.parse import quote

from aiohttp import web

from server.contract.query import path_id
from server.core.auth import Identity
from server.core.context import AppContext, context_of
from server.core.errors import AppError
from server.core.http import json_response, require_identity
from server.core.signed_links import LinkRefused, open_link, sign_link
from server.payments import receipts
from server.payments.views import PRIVATE, prefers_html
from server.sales import invoice_page, invoice_records

Loader = Callable[[AppContext, int, Identity], Awaitable[dict[str, Any]]]
Render = Callable[[dict[str, Any]], str]
#: What a signed page may do: the printable pages' own policy, and no referrer for the token.
PAGE_HEADERS = {
    **PRIVATE,
    "Content-Security-Policy": receipts.CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Vary": "Accept",
}
KINDS: dict[str, tuple[str, Loader, Render]] = {
    # kind: (what it is called in messages, load as a viewer, render as a page)
    "receipt": ("Payment", receipts.receipt_for, receipts.receipt_html),
    "invoice": ("Invoice", invoice_records.invoice_for, invoice_page.invoice_html),
}
SIGNED_PATHS = {"receipt": "/api/signed/receipts/", "invoice": "/api/signed/invoices/"}


def link_maker(kind: str, param: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    name, load, _ = KINDS[kind]

    async def make_link(request: web.Request) -> web.Response:
        viewer = require_identity(request)
        object_id = path_id(request.match_info[param], name)
        context = context_of(request)
        await load(context, object_id, viewer)  # not found, or no receipt yet: no link
        token, expires_at = sign_link(
            context.settings, kind=kind, object_id=object_id, viewer=viewer
        )
        url = f"{SIGNED_PATHS[kind]}{object_id}?token={quote(token)}"
        response = json_response({"url": url, "expires_at": expires_at})
        response.headers.update(PRIVATE)
        return response

    return make_link


def page_opener(kind: str, param: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    name, load, render = KINDS[kind]

    async def open_page(request: web.Request) -> web.Response:
        html = prefers_html(request.headers.get("Accept"))
        try:
            object_id = path_id(request.match_info[param], name)
            context = context_of(request)
            token = request.query.get("token", "")
            viewer = open_link(context.settings, kind=kind, object_id=object_id, token=token)
            document = await load(context, object_id, viewer)
        except AppError as error:
            if not html:
                raise
            return _refusal_page(error)
        if html:
            response = web.Response(
                text=render(document), content_type="text/html", charset="utf-8"
            )
        else:
            response = json_response(document)
        response.headers.update(PAGE_HEADERS)
        return response

    return open_page


def _refusal_page(error: AppError) -> web.Response:
    title = "Link expired" if error.code == "link_expired" else "This page cannot be shown"
    if not isinstance(error, LinkRefused) and error.status == 404:
        message = "There is nothing to show at this address."
    else:
        message = error.message
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>"
        f"<p>{escape(message)}</p></main></body></html>"
    )
    response = web.Response(
        text=body, status=error.status, content_type="text/html", charset="utf-8"
    )
    response.headers.update(PAGE_HEADERS)
    return response


def setup_routes(app: web.Application) -> None:
    app.router.add_post(
        "/api/payments/{payment_id}/receipt-link", link_maker("receipt", "payment_id")
    )
    app.router.add_post("/api/invoices/{invoice_id}/link", link_maker("invoice", "invoice_id"))
    app.router.add_get("/api/signed/receipts/{payment_id}", page_opener("receipt", "payment_id"))
    app.router.add_get("/api/signed/invoices/{invoice_id}", page_opener("invoice", "invoice_id"))
