from storeplatform_client._proto.storeplatform.v1 import store_pb2 as _store_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
FLEET_STORE_OUTCOME_FAILED: FleetStoreOutcome
FLEET_STORE_OUTCOME_ROLLED_BACK: FleetStoreOutcome
FLEET_STORE_OUTCOME_SKIPPED: FleetStoreOutcome
FLEET_STORE_OUTCOME_UNSPECIFIED: FleetStoreOutcome
FLEET_STORE_OUTCOME_UPGRADED: FleetStoreOutcome
FLEET_STORE_OUTCOME_UPGRADING: FleetStoreOutcome
FLEET_STORE_OUTCOME_WAITING: FleetStoreOutcome
FLEET_UPGRADE_STATE_CANCELLED: FleetUpgradeState
FLEET_UPGRADE_STATE_CANCELLING: FleetUpgradeState
FLEET_UPGRADE_STATE_COMPLETED: FleetUpgradeState
FLEET_UPGRADE_STATE_PAUSED: FleetUpgradeState
FLEET_UPGRADE_STATE_RUNNING: FleetUpgradeState
FLEET_UPGRADE_STATE_STOPPED: FleetUpgradeState
FLEET_UPGRADE_STATE_STOPPING: FleetUpgradeState
FLEET_UPGRADE_STATE_UNSPECIFIED: FleetUpgradeState

class ChangeFleetUpgradeRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ChangeFleetUpgradeResponse(_message.Message):
    __slots__ = ["fleet_upgrade"]
    FLEET_UPGRADE_FIELD_NUMBER: _ClassVar[int]
    fleet_upgrade: FleetUpgrade
    def __init__(self, fleet_upgrade: _Optional[_Union[FleetUpgrade, _Mapping]] = ...) -> None: ...

class FleetSelector(_message.Message):
    __slots__ = ["names", "statuses"]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    statuses: _containers.RepeatedScalarFieldContainer[_store_pb2.StoreStatus]
    def __init__(self, names: _Optional[_Iterable[str]] = ..., statuses: _Optional[_Iterable[_Union[_store_pb2.StoreStatus, str]]] = ...) -> None: ...

class FleetUpgrade(_message.Message):
    __slots__ = ["actor", "created_ms", "current_wave", "ended_ms", "failed", "failure_budget", "id", "max_unavailable", "rolled_back", "selector", "skipped", "state", "steps", "stores", "updated_ms", "upgraded", "upgrading", "version", "waiting", "wave_count", "wave_size"]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_WAVE_FIELD_NUMBER: _ClassVar[int]
    ENDED_MS_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    FAILURE_BUDGET_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MAX_UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    ROLLED_BACK_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STORES_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    UPGRADED_FIELD_NUMBER: _ClassVar[int]
    UPGRADING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    WAVE_COUNT_FIELD_NUMBER: _ClassVar[int]
    WAVE_SIZE_FIELD_NUMBER: _ClassVar[int]
    actor: str
    created_ms: int
    current_wave: int
    ended_ms: int
    failed: int
    failure_budget: int
    id: str
    max_unavailable: int
    rolled_back: int
    selector: FleetSelector
    skipped: int
    state: FleetUpgradeState
    steps: _containers.RepeatedCompositeFieldContainer[FleetUpgradeStep]
    stores: _containers.RepeatedCompositeFieldContainer[FleetUpgradeStore]
    updated_ms: int
    upgraded: int
    upgrading: int
    version: str
    waiting: int
    wave_count: int
    wave_size: int
    def __init__(self, id: _Optional[str] = ..., version: _Optional[str] = ..., selector: _Optional[_Union[FleetSelector, _Mapping]] = ..., wave_size: _Optional[int] = ..., max_unavailable: _Optional[int] = ..., failure_budget: _Optional[int] = ..., state: _Optional[_Union[FleetUpgradeState, str]] = ..., actor: _Optional[str] = ..., created_ms: _Optional[int] = ..., updated_ms: _Optional[int] = ..., ended_ms: _Optional[int] = ..., current_wave: _Optional[int] = ..., wave_count: _Optional[int] = ..., stores: _Optional[_Iterable[_Union[FleetUpgradeStore, _Mapping]]] = ..., steps: _Optional[_Iterable[_Union[FleetUpgradeStep, _Mapping]]] = ..., waiting: _Optional[int] = ..., upgrading: _Optional[int] = ..., upgraded: _Optional[int] = ..., rolled_back: _Optional[int] = ..., failed: _Optional[int] = ..., skipped: _Optional[int] = ...) -> None: ...

class FleetUpgradeStep(_message.Message):
    __slots__ = ["action", "actor", "message", "time_ms"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    action: str
    actor: str
    message: str
    time_ms: int
    def __init__(self, time_ms: _Optional[int] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class FleetUpgradeStore(_message.Message):
    __slots__ = ["from_version", "message", "name", "outcome", "revision", "store_id", "updated_ms", "wave"]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    WAVE_FIELD_NUMBER: _ClassVar[int]
    from_version: str
    message: str
    name: str
    outcome: FleetStoreOutcome
    revision: int
    store_id: str
    updated_ms: int
    wave: int
    def __init__(self, store_id: _Optional[str] = ..., name: _Optional[str] = ..., wave: _Optional[int] = ..., from_version: _Optional[str] = ..., outcome: _Optional[_Union[FleetStoreOutcome, str]] = ..., message: _Optional[str] = ..., revision: _Optional[int] = ..., updated_ms: _Optional[int] = ...) -> None: ...

class GetFleetUpgradeRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetFleetUpgradeResponse(_message.Message):
    __slots__ = ["fleet_upgrade"]
    FLEET_UPGRADE_FIELD_NUMBER: _ClassVar[int]
    fleet_upgrade: FleetUpgrade
    def __init__(self, fleet_upgrade: _Optional[_Union[FleetUpgrade, _Mapping]] = ...) -> None: ...

class ListFleetUpgradesRequest(_message.Message):
    __slots__ = ["limit"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListFleetUpgradesResponse(_message.Message):
    __slots__ = ["fleet_upgrades"]
    FLEET_UPGRADES_FIELD_NUMBER: _ClassVar[int]
    fleet_upgrades: _containers.RepeatedCompositeFieldContainer[FleetUpgrade]
    def __init__(self, fleet_upgrades: _Optional[_Iterable[_Union[FleetUpgrade, _Mapping]]] = ...) -> None: ...

class UpgradeFleetRequest(_message.Message):
    __slots__ = ["failure_budget", "max_unavailable", "selector", "version", "wave_size"]
    FAILURE_BUDGET_FIELD_NUMBER: _ClassVar[int]
    MAX_UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WAVE_SIZE_FIELD_NUMBER: _ClassVar[int]
    failure_budget: int
    max_unavailable: int
    selector: FleetSelector
    version: str
    wave_size: int
    def __init__(self, version: _Optional[str] = ..., selector: _Optional[_Union[FleetSelector, _Mapping]] = ..., wave_size: _Optional[int] = ..., max_unavailable: _Optional[int] = ..., failure_budget: _Optional[int] = ...) -> None: ...

class UpgradeFleetResponse(_message.Message):
    __slots__ = ["fleet_upgrade"]
    FLEET_UPGRADE_FIELD_NUMBER: _ClassVar[int]
    fleet_upgrade: FleetUpgrade
    def __init__(self, fleet_upgrade: _Optional[_Union[FleetUpgrade, _Mapping]] = ...) -> None: ...

class WatchFleetUpgradeRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class FleetUpgradeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class FleetStoreOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
