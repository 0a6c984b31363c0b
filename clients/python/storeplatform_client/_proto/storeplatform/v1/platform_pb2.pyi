from storeplatform_client._proto.storeplatform.v1 import store_pb2 as _store_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
FAILURE_RESOLUTION_DELETED: FailureResolution
FAILURE_RESOLUTION_OPEN: FailureResolution
FAILURE_RESOLUTION_RETRIED: FailureResolution
FAILURE_RESOLUTION_UNSPECIFIED: FailureResolution

class ActivityBucket(_message.Message):
    __slots__ = ["creates", "failures", "start_ms"]
    CREATES_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    creates: int
    failures: int
    start_ms: int
    def __init__(self, start_ms: _Optional[int] = ..., creates: _Optional[int] = ..., failures: _Optional[int] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ["action", "actor", "fleet_upgrade_id", "from_status", "id", "message", "request_id", "store_id", "store_name", "summary", "time_ms", "to_status"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    FLEET_UPGRADE_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_NAME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    action: str
    actor: str
    fleet_upgrade_id: str
    from_status: _store_pb2.StoreStatus
    id: int
    message: str
    request_id: str
    store_id: str
    store_name: str
    summary: str
    time_ms: int
    to_status: _store_pb2.StoreStatus
    def __init__(self, id: _Optional[int] = ..., time_ms: _Optional[int] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., store_id: _Optional[str] = ..., store_name: _Optional[str] = ..., from_status: _Optional[_Union[_store_pb2.StoreStatus, str]] = ..., to_status: _Optional[_Union[_store_pb2.StoreStatus, str]] = ..., message: _Optional[str] = ..., request_id: _Optional[str] = ..., summary: _Optional[str] = ..., fleet_upgrade_id: _Optional[str] = ...) -> None: ...

class DurationBucket(_message.Message):
    __slots__ = ["count", "upper_bound_ms"]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    UPPER_BOUND_MS_FIELD_NUMBER: _ClassVar[int]
    count: int
    upper_bound_ms: int
    def __init__(self, upper_bound_ms: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class DurationStats(_message.Message):
    __slots__ = ["avg_ms", "count", "max_ms", "min_ms", "p50_ms", "p95_ms"]
    AVG_MS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_MS_FIELD_NUMBER: _ClassVar[int]
    MIN_MS_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    avg_ms: float
    count: int
    max_ms: float
    min_ms: float
    p50_ms: float
    p95_ms: float
    def __init__(self, count: _Optional[int] = ..., avg_ms: _Optional[float] = ..., min_ms: _Optional[float] = ..., max_ms: _Optional[float] = ..., p50_ms: _Optional[float] = ..., p95_ms: _Optional[float] = ...) -> None: ...

class FailureRecord(_message.Message):
    __slots__ = ["reason", "resolution", "store_id", "store_name", "store_status", "summary", "time_ms"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_NAME_FIELD_NUMBER: _ClassVar[int]
    STORE_STATUS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    reason: str
    resolution: FailureResolution
    store_id: str
    store_name: str
    store_status: _store_pb2.StoreStatus
    summary: str
    time_ms: int
    def __init__(self, store_id: _Optional[str] = ..., store_name: _Optional[str] = ..., reason: _Optional[str] = ..., time_ms: _Optional[int] = ..., summary: _Optional[str] = ..., resolution: _Optional[_Union[FailureResolution, str]] = ..., store_status: _Optional[_Union[_store_pb2.StoreStatus, str]] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetMetricsResponse(_message.Message):
    __slots__ = ["active_operations", "last_hour", "max_live_stores", "provisioning", "provisioning_buckets", "quota_refusals_total", "rate_limited_total", "recent_failures", "reconcile_corrections", "reconcile_passes", "stores_by_status"]
    ACTIVE_OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    LAST_HOUR_FIELD_NUMBER: _ClassVar[int]
    MAX_LIVE_STORES_FIELD_NUMBER: _ClassVar[int]
    PROVISIONING_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    PROVISIONING_FIELD_NUMBER: _ClassVar[int]
    QUOTA_REFUSALS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMITED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RECENT_FAILURES_FIELD_NUMBER: _ClassVar[int]
    RECONCILE_CORRECTIONS_FIELD_NUMBER: _ClassVar[int]
    RECONCILE_PASSES_FIELD_NUMBER: _ClassVar[int]
    STORES_BY_STATUS_FIELD_NUMBER: _ClassVar[int]
    active_operations: int
    last_hour: _containers.RepeatedCompositeFieldContainer[ActivityBucket]
    max_live_stores: int
    provisioning: DurationStats
    provisioning_buckets: _containers.RepeatedCompositeFieldContainer[DurationBucket]
    quota_refusals_total: int
    rate_limited_total: int
    recent_failures: _containers.RepeatedCompositeFieldContainer[FailureRecord]
    reconcile_corrections: int
    reconcile_passes: int
    stores_by_status: _containers.RepeatedCompositeFieldContainer[StatusCount]
    def __init__(self, stores_by_status: _Optional[_Iterable[_Union[StatusCount, _Mapping]]] = ..., provisioning: _Optional[_Union[DurationStats, _Mapping]] = ..., recent_failures: _Optional[_Iterable[_Union[FailureRecord, _Mapping]]] = ..., rate_limited_total: _Optional[int] = ..., quota_refusals_total: _Optional[int] = ..., active_operations: _Optional[int] = ..., reconcile_passes: _Optional[int] = ..., reconcile_corrections: _Optional[int] = ..., max_live_stores: _Optional[int] = ..., last_hour: _Optional[_Iterable[_Union[ActivityBucket, _Mapping]]] = ..., provisioning_buckets: _Optional[_Iterable[_Union[DurationBucket, _Mapping]]] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ["cluster_driver", "cluster_simulated", "database", "database_problem", "provision_deadline_ms", "started_at_ms", "status", "uptime_seconds", "version"]
    CLUSTER_DRIVER_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_SIMULATED_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    DATABASE_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    PROVISION_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    cluster_driver: str
    cluster_simulated: bool
    database: str
    database_problem: str
    provision_deadline_ms: int
    started_at_ms: int
    status: str
    uptime_seconds: float
    version: str
    def __init__(self, status: _Optional[str] = ..., version: _Optional[str] = ..., uptime_seconds: _Optional[float] = ..., cluster_driver: _Optional[str] = ..., cluster_simulated: bool = ..., started_at_ms: _Optional[int] = ..., database: _Optional[str] = ..., database_problem: _Optional[str] = ..., provision_deadline_ms: _Optional[int] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ["limit", "page_token", "store_id"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    limit: int
    page_token: str
    store_id: str
    def __init__(self, limit: _Optional[int] = ..., page_token: _Optional[str] = ..., store_id: _Optional[str] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ["events", "next_page_token"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StatusCount(_message.Message):
    __slots__ = ["count", "status"]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    count: int
    status: _store_pb2.StoreStatus
    def __init__(self, status: _Optional[_Union[_store_pb2.StoreStatus, str]] = ..., count: _Optional[int] = ...) -> None: ...

class FailureResolution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
