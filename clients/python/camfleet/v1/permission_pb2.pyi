from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Permission(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERMISSION_UNSPECIFIED: _ClassVar[Permission]
    PERMISSION_CAMERAS_READ: _ClassVar[Permission]
    PERMISSION_CAMERAS_WRITE: _ClassVar[Permission]
    PERMISSION_STREAM_KEYS_READ: _ClassVar[Permission]
    PERMISSION_STREAMS_READ: _ClassVar[Permission]
    PERMISSION_RECORDINGS_READ: _ClassVar[Permission]
    PERMISSION_RECORDINGS_WRITE: _ClassVar[Permission]
    PERMISSION_ALERTS_READ: _ClassVar[Permission]
    PERMISSION_ALERTS_WRITE: _ClassVar[Permission]
    PERMISSION_NODES_READ: _ClassVar[Permission]
    PERMISSION_NODES_WRITE: _ClassVar[Permission]
    PERMISSION_USERS_READ: _ClassVar[Permission]
    PERMISSION_USERS_WRITE: _ClassVar[Permission]
    PERMISSION_API_TOKENS_READ: _ClassVar[Permission]
    PERMISSION_API_TOKENS_WRITE: _ClassVar[Permission]
    PERMISSION_AUDIT_READ: _ClassVar[Permission]
    PERMISSION_ANALYTICS_READ: _ClassVar[Permission]
    PERMISSION_ANALYTICS_WRITE: _ClassVar[Permission]
    PERMISSION_SETTINGS_READ: _ClassVar[Permission]
    PERMISSION_SETTINGS_WRITE: _ClassVar[Permission]
PERMISSION_UNSPECIFIED: Permission
PERMISSION_CAMERAS_READ: Permission
PERMISSION_CAMERAS_WRITE: Permission
PERMISSION_STREAM_KEYS_READ: Permission
PERMISSION_STREAMS_READ: Permission
PERMISSION_RECORDINGS_READ: Permission
PERMISSION_RECORDINGS_WRITE: Permission
PERMISSION_ALERTS_READ: Permission
PERMISSION_ALERTS_WRITE: Permission
PERMISSION_NODES_READ: Permission
PERMISSION_NODES_WRITE: Permission
PERMISSION_USERS_READ: Permission
PERMISSION_USERS_WRITE: Permission
PERMISSION_API_TOKENS_READ: Permission
PERMISSION_API_TOKENS_WRITE: Permission
PERMISSION_AUDIT_READ: Permission
PERMISSION_ANALYTICS_READ: Permission
PERMISSION_ANALYTICS_WRITE: Permission
PERMISSION_SETTINGS_READ: Permission
PERMISSION_SETTINGS_WRITE: Permission
PERMISSION_NAME_FIELD_NUMBER: _ClassVar[int]
permission_name: _descriptor.FieldDescriptor
PERMISSION_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
permission_description: _descriptor.FieldDescriptor

class PermissionInfo(_message.Message):
    __slots__ = ("permission", "name", "description")
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    permission: Permission
    name: str
    description: str
    def __init__(self, permission: _Optional[_Union[Permission, str]] = ..., name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...
