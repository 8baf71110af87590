"""The ASGI application: HTTP goes to Django, websockets to the Channels consumers.

Visitors' chat sockets come from any website that embeds the widget, so they are not bound to our
hosts' origins and carry no session: a visitor proves who they are with a signed token. Agents'
sockets use the session cookie, so they only accept an Origin of our own hosts (no cross-site
websocket hijacking).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
django_application = get_asgi_application()  # sets Django up before the consumers are imported

from channels.routing import ProtocolTypeRouter  # noqa: E402

from sportello.chat.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_application, "websocket": websocket_application})
