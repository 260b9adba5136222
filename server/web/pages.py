"""The pages (`/`, `/lots/{id}`, `/account`, `/seller`, `/admin`), their static files, and
the Socket.IO browser client.

There is no build step: the browser loads plain ES modules from `server/static`
and the official `socket.io-client` bundle, committed unchanged (with its licences)
under `server/static/vendor/socket.io-client/` so that it ships in the wheel and an
installed server needs neither npm nor the source tree. `package.json` pins the
version it was copied from; tests/test_packaging.py checks they agree. Every file is
served with `Cache-Control: no-cache`, so an edited page shows on the next reload
while unchanged files still revalidate cheaply through `Last-Modified`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from server.contract.query import path_id
from server.core.context import context_of
from server.core.errors import NotFound
from server.core.http import Handler
from server.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SOCKETIO_DIR = STATIC_DIR / "vendor" / "socket.io-client"
#: The files of the npm package the page needs (and its source map, for devtools).
VENDOR_FILES = frozenset({"socket.io.min.js", "socket.io.min.js.map"})


NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def stripe_js_url(settings: Settings) -> str:
    """Where browsers load Stripe.js: `STRIPE_JS_URL`, Stripe's own unless set.

    Not derived from `STRIPE_API_BASE`: that is the address *this server* reaches
    Stripe (or a stand-in) at, which inside compose is a container name no
    browser can resolve.
    """
    return settings.stripe_js_url


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def browser_stand_in_base(settings: Settings) -> str | None:
    """The stand-in as browsers reach it (the origin serving its Stripe.js), if one is used."""
    if not settings.stripe_api_base:
        return None
    return _origin(stripe_js_url(settings))


def content_security_policy(settings: Settings) -> str:
    """Scripts from us and Stripe only; no native form posts, so card data cannot reach us."""
    stand_in = browser_stand_in_base(settings)
    if stand_in is not None:
        stripe = stand_in
        scripts, connect, frames, images = stripe, stripe, "'none'", "'self' data:"
    else:
        scripts = "https://js.stripe.com"
        connect = "https://api.stripe.com"
        frames = "https://js.stripe.com https://hooks.stripe.com"
        images = "'self' data: https://*.stripe.com"
    return (
        f"default-src 'self'; script-src 'self' {scripts}; connect-src 'self' {connect}; "
        f"frame-src {frames}; img-src {images}; style-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


#: The product's pages: each path serves one static shell from `server/static`,
#: which loads its own modules and speaks only the public REST and Socket.IO API.
PAGES: dict[str, str] = {
    "/": "index.html",
    "/lots/{lot_id}": "lot.html",
    "/account": "account.html",
    "/seller": "seller.html",
    "/admin": "admin.html",
}


def page_handler(shell: str) -> Handler:
    """Serve `shell` with the page headers; a lot page needs an id that can name a lot."""

    async def page(request: web.Request) -> web.FileResponse:
        if "lot_id" in request.match_info:
            path_id(request.match_info["lot_id"])
        headers = {
            **NO_CACHE,
            "Content-Security-Policy": content_security_policy(context_of(request).settings),
            "Referrer-Policy": "no-referrer",
        }
        return web.FileResponse(STATIC_DIR / shell, headers=headers)

    return page


def static_file(root: Path, relative: str) -> Path:
    """`relative` inside `root`, or `NotFound`: no escaping the folder, no hidden files."""
    candidate = (root / relative).resolve()
    if (
        not relative
        or any(part.startswith(".") for part in Path(relative).parts)
        or not candidate.is_relative_to(root.resolve())
        or not candidate.is_file()
    ):
        raise NotFound("No such file")
    return candidate


async def static(request: web.Request) -> web.FileResponse:
    path = static_file(STATIC_DIR, request.match_info["path"])
    return web.FileResponse(path, headers=NO_CACHE)


def vendor_file(name: str) -> Path:
    """The named file of the Socket.IO client bundle, or `NotFound`."""
    if name not in VENDOR_FILES:
        raise NotFound("No such file")
    return SOCKETIO_DIR / name


async def vendor(request: web.Request) -> web.FileResponse:
    return web.FileResponse(vendor_file(request.match_info["name"]), headers=NO_CACHE)


def setup_routes(app: web.Application) -> None:
    for path, shell in PAGES.items():
        app.router.add_get(path, page_handler(shell))
    app.router.add_get("/static/{path:.+}", static)
    app.router.add_get("/vendor/{name}", vendor)
