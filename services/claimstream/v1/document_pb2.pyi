import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Document(_message.Message):
    __slots__ = ("id", "text", "title", "source", "url", "published_at", "lang_hint", "content_hash", "ingested_at", "processed_at", "language", "translation", "entities", "claims")
    class ProcessedAtEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _timestamp_pb2.Timestamp
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    LANG_HINT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    INGESTED_AT_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_AT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    title: str
    source: str
    url: str
    published_at: _timestamp_pb2.Timestamp
    lang_hint: str
    content_hash: str
    ingested_at: _timestamp_pb2.Timestamp
    processed_at: _containers.MessageMap[str, _timestamp_pb2.Timestamp]
    language: Language
    translation: Translation
    entities: _containers.RepeatedCompositeFieldContainer[Entity]
    claims: _containers.RepeatedCompositeFieldContainer[Claim]
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., title: _Optional[str] = ..., source: _Optional[str] = ..., url: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lang_hint: _Optional[str] = ..., content_hash: _Optional[str] = ..., ingested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., processed_at: _Optional[_Mapping[str, _timestamp_pb2.Timestamp]] = ..., language: _Optional[_Union[Language, _Mapping]] = ..., translation: _Optional[_Union[Translation, _Mapping]] = ..., entities: _Optional[_Iterable[_Union[Entity, _Mapping]]] = ..., claims: _Optional[_Iterable[_Union[Claim, _Mapping]]] = ...) -> None: ...

class LanguageScore(_message.Message):
    __slots__ = ("code", "confidence")
    CODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    code: str
    confidence: float
    def __init__(self, code: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class Language(_message.Message):
    __slots__ = ("code", "script", "confidence", "alternatives", "method")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    code: str
    script: str
    confidence: float
    alternatives: _containers.RepeatedCompositeFieldContainer[LanguageScore]
    method: str
    def __init__(self, code: _Optional[str] = ..., script: _Optional[str] = ..., confidence: _Optional[float] = ..., alternatives: _Optional[_Iterable[_Union[LanguageScore, _Mapping]]] = ..., method: _Optional[str] = ...) -> None: ...

class Translation(_message.Message):
    __slots__ = ("status", "text", "title", "model", "source_language", "target_language", "source_tokens", "target_tokens", "detail")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Translation.Status]
        OK: _ClassVar[Translation.Status]
        SOURCE_IS_TARGET: _ClassVar[Translation.Status]
        NO_MODEL: _ClassVar[Translation.Status]
    STATUS_UNSPECIFIED: Translation.Status
    OK: Translation.Status
    SOURCE_IS_TARGET: Translation.Status
    NO_MODEL: Translation.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TARGET_TOKENS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    status: Translation.Status
    text: str
    title: str
    model: str
    source_language: str
    target_language: str
    source_tokens: int
    target_tokens: int
    detail: str
    def __init__(self, status: _Optional[_Union[Translation.Status, str]] = ..., text: _Optional[str] = ..., title: _Optional[str] = ..., model: _Optional[str] = ..., source_language: _Optional[str] = ..., target_language: _Optional[str] = ..., source_tokens: _Optional[int] = ..., target_tokens: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class Entity(_message.Message):
    __slots__ = ("text", "label", "start", "end", "found_in", "confidence", "canonical_id", "canonical_name", "recognizer", "source_start", "source_end")
    class Field(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        FIELD_UNSPECIFIED: _ClassVar[Entity.Field]
        SOURCE_TEXT: _ClassVar[Entity.Field]
        TRANSLATED_TEXT: _ClassVar[Entity.Field]
    FIELD_UNSPECIFIED: Entity.Field
    SOURCE_TEXT: Entity.Field
    TRANSLATED_TEXT: Entity.Field
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    FOUND_IN_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_ID_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_NAME_FIELD_NUMBER: _ClassVar[int]
    RECOGNIZER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_START_FIELD_NUMBER: _ClassVar[int]
    SOURCE_END_FIELD_NUMBER: _ClassVar[int]
    text: str
    label: str
    start: int
    end: int
    found_in: Entity.Field
    confidence: float
    canonical_id: str
    canonical_name: str
    recognizer: str
    source_start: int
    source_end: int
    def __init__(self, text: _Optional[str] = ..., label: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., found_in: _Optional[_Union[Entity.Field, str]] = ..., confidence: _Optional[float] = ..., canonical_id: _Optional[str] = ..., canonical_name: _Optional[str] = ..., recognizer: _Optional[str] = ..., source_start: _Optional[int] = ..., source_end: _Optional[int] = ...) -> None: ...

class EntityRef(_message.Message):
    __slots__ = ("id", "name", "text")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    text: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Quantity(_message.Message):
    __slots__ = ("value", "lower", "upper", "unit", "qualifier", "surface", "counted")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    SURFACE_FIELD_NUMBER: _ClassVar[int]
    COUNTED_FIELD_NUMBER: _ClassVar[int]
    value: float
    lower: float
    upper: float
    unit: str
    qualifier: str
    surface: str
    counted: str
    def __init__(self, value: _Optional[float] = ..., lower: _Optional[float] = ..., upper: _Optional[float] = ..., unit: _Optional[str] = ..., qualifier: _Optional[str] = ..., surface: _Optional[str] = ..., counted: _Optional[str] = ...) -> None: ...

class TimeSpan(_message.Message):
    __slots__ = ("start", "end", "precision", "surface")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    SURFACE_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    precision: str
    surface: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ..., precision: _Optional[str] = ..., surface: _Optional[str] = ...) -> None: ...

class Claim(_message.Message):
    __slots__ = ("text", "source_text", "start", "end", "predicate", "subject", "object", "place", "attribution", "key", "quantity", "time", "language", "confidence", "predicate_method", "contradiction", "doc_id", "doc_source", "published_at", "found_in", "superseded")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TEXT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_METHOD_FIELD_NUMBER: _ClassVar[int]
    CONTRADICTION_FIELD_NUMBER: _ClassVar[int]
    DOC_ID_FIELD_NUMBER: _ClassVar[int]
    DOC_SOURCE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    FOUND_IN_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    text: str
    source_text: str
    start: int
    end: int
    predicate: str
    subject: EntityRef
    object: EntityRef
    place: EntityRef
    attribution: EntityRef
    key: str
    quantity: Quantity
    time: TimeSpan
    language: str
    confidence: float
    predicate_method: str
    contradiction: str
    doc_id: str
    doc_source: str
    published_at: _timestamp_pb2.Timestamp
    found_in: Entity.Field
    superseded: bool
    def __init__(self, text: _Optional[str] = ..., source_text: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., predicate: _Optional[str] = ..., subject: _Optional[_Union[EntityRef, _Mapping]] = ..., object: _Optional[_Union[EntityRef, _Mapping]] = ..., place: _Optional[_Union[EntityRef, _Mapping]] = ..., attribution: _Optional[_Union[EntityRef, _Mapping]] = ..., key: _Optional[str] = ..., quantity: _Optional[_Union[Quantity, _Mapping]] = ..., time: _Optional[_Union[TimeSpan, _Mapping]] = ..., language: _Optional[str] = ..., confidence: _Optional[float] = ..., predicate_method: _Optional[str] = ..., contradiction: _Optional[str] = ..., doc_id: _Optional[str] = ..., doc_source: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., found_in: _Optional[_Union[Entity.Field, str]] = ..., superseded: _Optional[bool] = ...) -> None: ...

class ClaimGroupMember(_message.Message):
    __slots__ = ("doc_id", "language", "source", "attribution", "quantity", "time", "source_text", "start", "end", "published_at", "also_in", "superseded")
    DOC_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TEXT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ALSO_IN_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    doc_id: str
    language: str
    source: str
    attribution: EntityRef
    quantity: Quantity
    time: TimeSpan
    source_text: str
    start: int
    end: int
    published_at: _timestamp_pb2.Timestamp
    also_in: _containers.RepeatedScalarFieldContainer[str]
    superseded: bool
    def __init__(self, doc_id: _Optional[str] = ..., language: _Optional[str] = ..., source: _Optional[str] = ..., attribution: _Optional[_Union[EntityRef, _Mapping]] = ..., quantity: _Optional[_Union[Quantity, _Mapping]] = ..., time: _Optional[_Union[TimeSpan, _Mapping]] = ..., source_text: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., also_in: _Optional[_Iterable[str]] = ..., superseded: _Optional[bool] = ...) -> None: ...

class ClaimGroup(_message.Message):
    __slots__ = ("key", "predicate", "subject", "object", "text", "claims", "doc_ids", "languages", "sources", "value_range", "conflict", "reason", "updated_at", "timeline")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    DOC_IDS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    VALUE_RANGE_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    key: str
    predicate: str
    subject: EntityRef
    object: EntityRef
    text: str
    claims: _containers.RepeatedCompositeFieldContainer[ClaimGroupMember]
    doc_ids: _containers.RepeatedScalarFieldContainer[str]
    languages: _containers.RepeatedScalarFieldContainer[str]
    sources: _containers.RepeatedScalarFieldContainer[str]
    value_range: Quantity
    conflict: bool
    reason: str
    updated_at: _timestamp_pb2.Timestamp
    timeline: str
    def __init__(self, key: _Optional[str] = ..., predicate: _Optional[str] = ..., subject: _Optional[_Union[EntityRef, _Mapping]] = ..., object: _Optional[_Union[EntityRef, _Mapping]] = ..., text: _Optional[str] = ..., claims: _Optional[_Iterable[_Union[ClaimGroupMember, _Mapping]]] = ..., doc_ids: _Optional[_Iterable[str]] = ..., languages: _Optional[_Iterable[str]] = ..., sources: _Optional[_Iterable[str]] = ..., value_range: _Optional[_Union[Quantity, _Mapping]] = ..., conflict: _Optional[bool] = ..., reason: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeline: _Optional[str] = ...) -> None: ...
