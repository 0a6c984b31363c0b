from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

CODE_ABORTED: Code
CODE_ALREADY_EXISTS: Code
CODE_CANCELLED: Code
CODE_DATA_LOSS: Code
CODE_DEADLINE_EXCEEDED: Code
CODE_FAILED_PRECONDITION: Code
CODE_INTERNAL: Code
CODE_INVALID_ARGUMENT: Code
CODE_NOT_FOUND: Code
CODE_OK: Code
CODE_OUT_OF_RANGE: Code
CODE_PERMISSION_DENIED: Code
CODE_RESOURCE_EXHAUSTED: Code
CODE_UNAUTHENTICATED: Code
CODE_UNAVAILABLE: Code
CODE_UNIMPLEMENTED: Code
CODE_UNKNOWN: Code
DESCRIPTOR: _descriptor.FileDescriptor
FRAME_TYPE_CANCEL: FrameType
FRAME_TYPE_ERROR: FrameType
FRAME_TYPE_REQUEST: FrameType
FRAME_TYPE_RESPONSE: FrameType
FRAME_TYPE_STREAM_END: FrameType
FRAME_TYPE_STREAM_MESSAGE: FrameType
FRAME_TYPE_UNSPECIFIED: FrameType

class Envelope(_message.Message):
    __slots__ = ["metadata", "method", "payload", "status", "stream_id", "timeout_ms", "type"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METADATA_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    metadata: _containers.ScalarMap[str, str]
    method: str
    payload: bytes
    status: Status
    stream_id: int
    timeout_ms: int
    type: FrameType
    def __init__(self, stream_id: _Optional[int] = ..., type: _Optional[_Union[FrameType, str]] = ..., method: _Optional[str] = ..., payload: _Optional[bytes] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ["code", "error_code", "message", "retry_after_ms"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    code: Code
    error_code: str
    message: str
    retry_after_ms: int
    def __init__(self, code: _Optional[_Union[Code, str]] = ..., error_code: _Optional[str] = ..., message: _Optional[str] = ..., retry_after_ms: _Optional[int] = ...) -> None: ...

class FrameType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Code(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
