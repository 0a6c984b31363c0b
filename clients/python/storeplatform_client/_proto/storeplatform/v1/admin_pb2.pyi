from storeplatform_client._proto.storeplatform.v1 import store_pb2 as _store_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Correction(_message.Message):
    __slots__ = ["from_status", "reason", "store_id", "store_name", "to_status"]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_NAME_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    from_status: _store_pb2.StoreStatus
    reason: str
    store_id: str
    store_name: str
    to_status: _store_pb2.StoreStatus
    def __init__(self, store_id: _Optional[str] = ..., store_name: _Optional[str] = ..., from_status: _Optional[_Union[_store_pb2.StoreStatus, str]] = ..., to_status: _Optional[_Union[_store_pb2.StoreStatus, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class GetLimitsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetLimitsResponse(_message.Message):
    __slots__ = ["limits"]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    limits: Limits
    def __init__(self, limits: _Optional[_Union[Limits, _Mapping]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ["creates_per_minute", "max_concurrent_provisions", "max_live_stores", "requests_per_minute"]
    CREATES_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_PROVISIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_LIVE_STORES_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    creates_per_minute: int
    max_concurrent_provisions: int
    max_live_stores: int
    requests_per_minute: int
    def __init__(self, max_live_stores: _Optional[int] = ..., requests_per_minute: _Optional[int] = ..., creates_per_minute: _Optional[int] = ..., max_concurrent_provisions: _Optional[int] = ...) -> None: ...

class ListOperationsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListOperationsResponse(_message.Message):
    __slots__ = ["operations"]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    operations: _containers.RepeatedCompositeFieldContainer[Operation]
    def __init__(self, operations: _Optional[_Iterable[_Union[Operation, _Mapping]]] = ...) -> None: ...

class Operation(_message.Message):
    __slots__ = ["kind", "lease_expires_at_ms", "replica", "started_at_ms", "store_id", "store_name"]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_NAME_FIELD_NUMBER: _ClassVar[int]
    kind: str
    lease_expires_at_ms: int
    replica: str
    started_at_ms: int
    store_id: str
    store_name: str
    def __init__(self, store_id: _Optional[str] = ..., store_name: _Optional[str] = ..., kind: _Optional[str] = ..., started_at_ms: _Optional[int] = ..., replica: _Optional[str] = ..., lease_expires_at_ms: _Optional[int] = ...) -> None: ...

class ReconcileRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ReconcileResponse(_message.Message):
    __slots__ = ["corrections", "deleted_orphans", "duration_ms", "orphan_namespaces", "replica", "stores_examined"]
    CORRECTIONS_FIELD_NUMBER: _ClassVar[int]
    DELETED_ORPHANS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ORPHAN_NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    STORES_EXAMINED_FIELD_NUMBER: _ClassVar[int]
    corrections: _containers.RepeatedCompositeFieldContainer[Correction]
    deleted_orphans: _containers.RepeatedScalarFieldContainer[str]
    duration_ms: float
    orphan_namespaces: _containers.RepeatedScalarFieldContainer[str]
    replica: str
    stores_examined: int
    def __init__(self, corrections: _Optional[_Iterable[_Union[Correction, _Mapping]]] = ..., orphan_namespaces: _Optional[_Iterable[str]] = ..., deleted_orphans: _Optional[_Iterable[str]] = ..., duration_ms: _Optional[float] = ..., stores_examined: _Optional[int] = ..., replica: _Optional[str] = ...) -> None: ...

class UpdateLimitsRequest(_message.Message):
    __slots__ = ["creates_per_minute", "max_concurrent_provisions", "max_live_stores", "requests_per_minute"]
    CREATES_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_PROVISIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_LIVE_STORES_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    creates_per_minute: int
    max_concurrent_provisions: int
    max_live_stores: int
    requests_per_minute: int
    def __init__(self, max_live_stores: _Optional[int] = ..., requests_per_minute: _Optional[int] = ..., creates_per_minute: _Optional[int] = ..., max_concurrent_provisions: _Optional[int] = ...) -> None: ...

class UpdateLimitsResponse(_message.Message):
    __slots__ = ["limits"]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    limits: Limits
    def __init__(self, limits: _Optional[_Union[Limits, _Mapping]] = ...) -> None: ...
