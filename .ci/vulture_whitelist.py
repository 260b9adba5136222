"""Names vulture (dead-code finder, `.ci/run`) reports as unused, and why they stay.

vulture reads this file, never runs it: each bare name below counts as "used".
Keep a reason beside every entry; delete the entry when the reason goes.
"""
# ruff: noqa: B018, F821

# Called by name by python-socketio (class-based namespaces): `on_<event>`.
on_connect
on_disconnect
# Read by python-socketio from a ConnectionRefusedError to build the client's error.
error_args

# Read by SQLAlchemy's DeclarativeBase.
type_annotation_map

# Mapped columns: part of the schema (the migrations create them, SQL and the
# admin reading the database use them) though no Python reads them back.
last_error
sent_at
last_synced_at
stripe_event_id
object_id
stripe_created
received_at
removed_at

# Read by Alembic from every migration module.
down_revision
branch_labels
depends_on

# server/devtools/stripe_standin.py patches localstripe: these attributes are
# localstripe's own, replaced on its classes and objects.
dump_to_disk
try_load_from_disk
_handler
latest_charge
# A keyword localstripe passes and the patched cancel swallows on purpose (Stripe
# accepts it; localstripe's own cancel does not).
cancellation_reason

# Settings.stripe_webhook_secret: the signing secret (first of the rotation list),
# a convenience the tests and operators' scripts use.
stripe_webhook_secret

# server/realtime/redis_link.py overrides python-socketio's AsyncRedisManager
# hooks, which socketio calls by name.
_publish
_redis_listen_with_retries

# server/workers.py: a signal handler's parameter; the signal module passes it.
signum

# server/notifications/repository.py: mark_sent, the one-message form of
# mark_sent_many that tests/test_outbox.py uses to check a lost lease is refused.
mark_sent
# ...and SENT, named beside PENDING and DEAD though the batched UPDATE writes 'sent' itself.
SENT

# server/realtime/lean_socket.py: PacketQueue is engine.io's send queue and LeanEngineIO /
# LeanSocketIO override engine.io's and python-socketio's hooks; they call these by name.
empty
put
get_nowait
last_ping
create_queue
_engineio_server_class

# server/devtools/standin_webhooks.py replaces localstripe's webhook sender, which
# localstripe's schedule_webhook calls by name.
_send_webhook
