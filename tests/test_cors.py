"""CORS: REST answers allowlisted browser origins only; Socket.IO refuses other origins.

Runs the real app; the Socket.IO checks use engine.io's own polling handshake,
the first request a browser makes.
"""

from __future__ import annotations

SHOP = "https://shop.example"
OTHER = "https://evil.example"
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


async def _get(server, path, **headers):
    async with server.http.get(server.url + path, headers=headers) as response:
        await response.read()
        return response


async def _preflight(server, path, origin, method="POST"):
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with server.http.options(server.url + path, headers=headers) as response:
        await response.read()
        return response


async def test_an_allowed_origin_gets_cors_headers(start_server):
    server = await start_server(cors_origins=(SHOP,))
    response = await _get(server, "/healthz", Origin=SHOP)
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers.getall("Vary")


async def test_another_origin_gets_no_cors_headers(start_server):
    server = await start_server(cors_origins=(SHOP,))
    response = await _get(server, "/healthz", Origin=OTHER)
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers.getall("Vary")


async def test_errors_carry_cors_headers_so_the_page_can_read_them(start_server):
    server = await start_server(cors_origins=(SHOP,))
    async with server.http.get(server.url + "/api/nope", headers={"Origin": SHOP}) as response:
        assert response.status == 404
        assert response.headers["Access-Control-Allow-Origin"] == SHOP
        assert (await response.json())["error"]["code"] == "not_found"


async def test_preflight_from_an_allowed_origin(start_server):
    server = await start_server(cors_origins=(SHOP,))
    response = await _preflight(server, "/api/lots", SHOP)
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers
    assert int(response.headers["Access-Control-Max-Age"]) > 0


async def test_preflight_from_another_origin_is_refused(start_server):
    server = await start_server(cors_origins=(SHOP,))
    async with server.http.options(
        server.url + "/api/lots",
        headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"},
    ) as response:
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers
        assert (await response.json())["error"]["code"] == "forbidden"


async def test_by_default_only_the_same_origin_is_served(server):
    assert server.context.settings.cors_origins == ()
    response = await _get(server, "/healthz", Origin=SHOP)
    assert response.status == 200
    assert not [name for name in response.headers if name.lower().startswith("access-control")]
    assert (await _preflight(server, "/api/lots", SHOP)).status == 403


async def test_a_star_allows_every_origin(start_server):
    server = await start_server(cors_origins=("*",))
    response = await _get(server, "/healthz", Origin=OTHER)
    assert response.headers["Access-Control-Allow-Origin"] == OTHER
    assert (await _preflight(server, "/api/lots", OTHER)).status == 204


async def test_socketio_refuses_a_handshake_from_another_origin(start_server):
    server = await start_server(cors_origins=(SHOP,))
    refused = await _get(server, HANDSHAKE, Origin=OTHER)
    assert refused.status == 400
    accepted = await _get(server, HANDSHAKE, Origin=SHOP)
    assert accepted.status == 200
    # engine.io labels its own responses; the REST middleware must not add a second header.
    assert accepted.headers.getall("Access-Control-Allow-Origin") == [SHOP]


async def test_socketio_by_default_accepts_only_its_own_origin(server):
    assert (await _get(server, HANDSHAKE, Origin=SHOP)).status == 400
    assert (await _get(server, HANDSHAKE, Origin=server.url)).status == 200
    # Clients that are not browsers send no Origin at all, and are served.
    assert (await _get(server, HANDSHAKE)).status == 200
