from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
PROVISIONING_STEP_INSTALL: ProvisioningStep
PROVISIONING_STEP_NAMESPACE: ProvisioningStep
PROVISIONING_STEP_READINESS: ProvisioningStep
PROVISIONING_STEP_SECRET: ProvisioningStep
PROVISIONING_STEP_UNSPECIFIED: ProvisioningStep
REVISION_STATUS_DEPLOYED: RevisionStatus
REVISION_STATUS_FAILED: RevisionStatus
REVISION_STATUS_PENDING: RevisionStatus
REVISION_STATUS_ROLLED_BACK: RevisionStatus
REVISION_STATUS_SUPERSEDED: RevisionStatus
REVISION_STATUS_UNSPECIFIED: RevisionStatus
STORE_STATUS_DELETED: StoreStatus
STORE_STATUS_DELETING: StoreStatus
STORE_STATUS_FAILED: StoreStatus
STORE_STATUS_PROVISIONING: StoreStatus
STORE_STATUS_QUEUED: StoreStatus
STORE_STATUS_READY: StoreStatus
STORE_STATUS_UNSPECIFIED: StoreStatus
STORE_STATUS_UPGRADING: StoreStatus

class CreateStoreRequest(_message.Message):
    __slots__ = ["engine", "name"]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    engine: str
    name: str
    def __init__(self, name: _Optional[str] = ..., engine: _Optional[str] = ...) -> None: ...

class CreateStoreResponse(_message.Message):
    __slots__ = ["store"]
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: Store
    def __init__(self, store: _Optional[_Union[Store, _Mapping]] = ...) -> None: ...

class DeleteStoreRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteStoreResponse(_message.Message):
    __slots__ = ["store"]
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: Store
    def __init__(self, store: _Optional[_Union[Store, _Mapping]] = ...) -> None: ...

class EngineVersion(_message.Message):
    __slots__ = ["chart_version", "engine", "is_default", "name", "woocommerce_version", "wordpress_image"]
    CHART_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WOOCOMMERCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    WORDPRESS_IMAGE_FIELD_NUMBER: _ClassVar[int]
    chart_version: str
    engine: str
    is_default: bool
    name: str
    woocommerce_version: str
    wordpress_image: str
    def __init__(self, engine: _Optional[str] = ..., name: _Optional[str] = ..., wordpress_image: _Optional[str] = ..., woocommerce_version: _Optional[str] = ..., chart_version: _Optional[str] = ..., is_default: bool = ...) -> None: ...

class GetStoreRequest(_message.Message):
    __slots__ = ["id", "name"]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetStoreResponse(_message.Message):
    __slots__ = ["store"]
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: Store
    def __init__(self, store: _Optional[_Union[Store, _Mapping]] = ...) -> None: ...

class ListEngineVersionsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListEngineVersionsResponse(_message.Message):
    __slots__ = ["versions"]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[EngineVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[EngineVersion, _Mapping]]] = ...) -> None: ...

class ListStoreRevisionsRequest(_message.Message):
    __slots__ = ["id", "name"]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListStoreRevisionsResponse(_message.Message):
    __slots__ = ["revisions"]
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[StoreRevision]
    def __init__(self, revisions: _Optional[_Iterable[_Union[StoreRevision, _Mapping]]] = ...) -> None: ...

class ListStoresRequest(_message.Message):
    __slots__ = ["name_contains", "page_size", "page_token", "statuses"]
    NAME_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    name_contains: str
    page_size: int
    page_token: str
    statuses: _containers.RepeatedScalarFieldContainer[StoreStatus]
    def __init__(self, statuses: _Optional[_Iterable[_Union[StoreStatus, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., name_contains: _Optional[str] = ...) -> None: ...

class ListStoresResponse(_message.Message):
    __slots__ = ["next_page_token", "stores"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STORES_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    stores: _containers.RepeatedCompositeFieldContainer[Store]
    def __init__(self, stores: _Optional[_Iterable[_Union[Store, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RetryStoreRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RetryStoreResponse(_message.Message):
    __slots__ = ["store"]
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: Store
    def __init__(self, store: _Optional[_Union[Store, _Mapping]] = ...) -> None: ...

class RollbackStoreRequest(_message.Message):
    __slots__ = ["id", "name", "revision"]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    revision: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class RollbackStoreResponse(_message.Message):
    __slots__ = ["store"]
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: Store
    def __init__(self, store: _Optional[_Union[Store, _Mapping]] = ...) -> None: ...

class Store(_message.Message):
    __slots__ = ["attempts", "created_at_ms", "deleted_at_ms", "engine", "error_message", "error_summary", "id", "name", "namespace", "owner", "provisioning_duration_ms", "provisioning_started_at_ms", "ready_at_ms", "release", "revision", "status", "updated_at_ms", "url", "version"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    PROVISIONING_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    PROVISIONING_STARTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    READY_AT_MS_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    attempts: int
    created_at_ms: int
    deleted_at_ms: int
    engine: str
    error_message: str
    error_summary: str
    id: str
    name: str
    namespace: str
    owner: str
    provisioning_duration_ms: int
    provisioning_started_at_ms: int
    ready_at_ms: int
    release: str
    revision: int
    status: StoreStatus
    updated_at_ms: int
    url: str
    version: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., engine: _Optional[str] = ..., status: _Optional[_Union[StoreStatus, str]] = ..., url: _Optional[str] = ..., namespace: _Optional[str] = ..., error_message: _Optional[str] = ..., attempts: _Optional[int] = ..., created_at_ms: _Optional[int] = ..., updated_at_ms: _Optional[int] = ..., ready_at_ms: _Optional[int] = ..., deleted_at_ms: _Optional[int] = ..., provisioning_duration_ms: _Optional[int] = ..., release: _Optional[str] = ..., owner: _Optional[str] = ..., error_summary: _Optional[str] = ..., provisioning_started_at_ms: _Optional[int] = ..., version: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class StoreEvent(_message.Message):
    __slots__ = ["action", "audit_id", "from_status", "step", "store", "time_ms", "to_status"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    AUDIT_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    action: str
    audit_id: int
    from_status: StoreStatus
    step: ProvisioningStep
    store: Store
    time_ms: int
    to_status: StoreStatus
    def __init__(self, store: _Optional[_Union[Store, _Mapping]] = ..., from_status: _Optional[_Union[StoreStatus, str]] = ..., to_status: _Optional[_Union[StoreStatus, str]] = ..., action: _Optional[str] = ..., audit_id: _Optional[int] = ..., time_ms: _Optional[int] = ..., step: _Optional[_Union[ProvisioningStep, str]] = ...) -> None: ...

class StoreRevision(_message.Message):
    __slots__ = ["actor", "message", "revision", "status", "time_ms", "version"]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    actor: str
    message: str
    revision: int
    status: RevisionStatus
    time_ms: int
    version: str
    def __init__(self, revision: _Optional[int] = ..., version: _Optional[str] = ..., status: _Optional[_Union[RevisionStatus, str]] = ..., actor: _Optional[str] = ..., time_ms: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class UpgradeStoreRequest(_message.Message):
    __slots__ = ["id", "name", "version"]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    version: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class UpgradeStoreResponse(_message.Message):
    __slots__ = ["store"]
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: Store
    def __init__(self, store: _Optional[_Union[Store, _Mapping]] = ...) -> None: ...

class WatchStoresRequest(_message.Message):
    __slots__ = ["after_audit_id", "include_progress", "store_id"]
    AFTER_AUDIT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    after_audit_id: int
    include_progress: bool
    store_id: str
    def __init__(self, store_id: _Optional[str] = ..., after_audit_id: _Optional[int] = ..., include_progress: bool = ...) -> None: ...

class StoreStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class RevisionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ProvisioningStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
