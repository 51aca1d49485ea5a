from claimstream.v1 import document_pb2 as _document_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IngestRejection(_message.Message):
    __slots__ = ("index", "id", "reason", "detail")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    index: int
    id: str
    reason: str
    detail: str
    def __init__(self, index: _Optional[int] = ..., id: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class IngestSummary(_message.Message):
    __slots__ = ("accepted", "rejected", "rejected_by_reason", "rejections", "topic")
    class RejectedByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    rejected: int
    rejected_by_reason: _containers.ScalarMap[str, int]
    rejections: _containers.RepeatedCompositeFieldContainer[IngestRejection]
    topic: str
    def __init__(self, accepted: _Optional[int] = ..., rejected: _Optional[int] = ..., rejected_by_reason: _Optional[_Mapping[str, int]] = ..., rejections: _Optional[_Iterable[_Union[IngestRejection, _Mapping]]] = ..., topic: _Optional[str] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("stream", "languages", "claim_keys", "from_beginning")
    class Stream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STREAM_UNSPECIFIED: _ClassVar[WatchRequest.Stream]
        DOCUMENTS: _ClassVar[WatchRequest.Stream]
        CLAIM_GROUPS: _ClassVar[WatchRequest.Stream]
    STREAM_UNSPECIFIED: WatchRequest.Stream
    DOCUMENTS: WatchRequest.Stream
    CLAIM_GROUPS: WatchRequest.Stream
    STREAM_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    CLAIM_KEYS_FIELD_NUMBER: _ClassVar[int]
    FROM_BEGINNING_FIELD_NUMBER: _ClassVar[int]
    stream: WatchRequest.Stream
    languages: _containers.RepeatedScalarFieldContainer[str]
    claim_keys: _containers.RepeatedScalarFieldContainer[str]
    from_beginning: bool
    def __init__(self, stream: _Optional[_Union[WatchRequest.Stream, str]] = ..., languages: _Optional[_Iterable[str]] = ..., claim_keys: _Optional[_Iterable[str]] = ..., from_beginning: _Optional[bool] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("document", "group", "topic", "partition", "offset")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    document: _document_pb2.Document
    group: _document_pb2.ClaimGroup
    topic: str
    partition: int
    offset: int
    def __init__(self, document: _Optional[_Union[_document_pb2.Document, _Mapping]] = ..., group: _Optional[_Union[_document_pb2.ClaimGroup, _Mapping]] = ..., topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...
