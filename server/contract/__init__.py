"""The contract of the HTTP API and the Socket.IO events: one strict pydantic model per body.

Handlers parse with these models (`server.contract.base.parse`), and the published
documents (`/api/openapi.json`, `/api/asyncapi.json`) are generated from the same
models, so what the server accepts and what it says it accepts cannot drift apart.
"""
