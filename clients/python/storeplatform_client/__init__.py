"""Python client of storeplatformd, the StorePlatform control plane.

    from storeplatform_client import Client

    with Client.unix() as client:
        store = client.create_store("my-shop")
        ...

The wire protocol is described in proto/PROTOCOL.md of the StorePlatform
repository; the messages are the generated modules re-exported here
(``store_pb2``, ``fleet_pb2``, ``platform_pb2``, ``admin_pb2``, ``envelope_pb2``).
"""

from ._proto.storeplatform.v1 import admin_pb2, envelope_pb2, fleet_pb2, platform_pb2, store_pb2
from .client import (
    DEFAULT_MAX_FRAME_BYTES,
    DEFAULT_TCP_HOST,
    DEFAULT_TCP_PORT,
    Client,
    Methods,
    ServerStream,
    default_socket_path,
    tls_context,
)
from .errors import *  # noqa: F401,F403  (every error class and StatusCode)
from .errors import __all__ as _errors_all

Store = store_pb2.Store
StoreEvent = store_pb2.StoreEvent
StoreStatus = store_pb2.StoreStatus
EngineVersion = store_pb2.EngineVersion
StoreRevision = store_pb2.StoreRevision
RevisionStatus = store_pb2.RevisionStatus
FleetUpgrade = fleet_pb2.FleetUpgrade
FleetUpgradeState = fleet_pb2.FleetUpgradeState
FleetStoreOutcome = fleet_pb2.FleetStoreOutcome

__version__ = "0.1.0"

__all__ = [
    "Client",
    "ServerStream",
    "Methods",
    "default_socket_path",
    "tls_context",
    "DEFAULT_MAX_FRAME_BYTES",
    "DEFAULT_TCP_HOST",
    "DEFAULT_TCP_PORT",
    "Store",
    "StoreEvent",
    "StoreStatus",
    "EngineVersion",
    "StoreRevision",
    "RevisionStatus",
    "FleetUpgrade",
    "FleetUpgradeState",
    "FleetStoreOutcome",
    "admin_pb2",
    "envelope_pb2",
    "fleet_pb2",
    "platform_pb2",
    "store_pb2",
    *_errors_all,
]
