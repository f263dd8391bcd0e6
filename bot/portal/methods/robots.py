"""The application's automation rules (robots): `bizproc.robot.*` and `bizproc.event.send`.

The robot methods work only with the installed application's token, for an administrator;
`bizproc.event.send` works for any user with the `event_token` the portal gave the call.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.portal.methods.base import PortalMethod

__all__ = [
    "AddRobot",
    "DeleteRobot",
    "ListRobots",
    "RobotFields",
    "RobotProperty",
    "SendBizprocEvent",
    "UpdateRobot",
]

Localized = str | dict[str, str]
"""A text, or its translations by language id (`{"en": ..., "ru": ...}`)."""

YesNo = Literal["Y", "N"]


class RobotProperty(BaseModel):
    """One parameter (or return value) of a robot, as PROPERTIES describes it."""

    model_config = ConfigDict(frozen=True)

    name: Localized
    type: Literal[
        "bool", "date", "datetime", "double", "file", "int", "select", "string", "text", "user"
    ]
    description: Localized | None = None
    options: dict[str, str] | None = None
    required: YesNo = "N"
    multiple: YesNo = "N"
    default: str | None = None

    def to_portal(self) -> dict[str, Any]:
        """The portal's capitalised keys; unset ones left out."""
        stored: dict[str, Any] = {
            "Name": self.name,
            "Type": self.type,
            "Required": self.required,
            "Multiple": self.multiple,
        }
        for key, value in (
            ("Description", self.description),
            ("Options", self.options),
            ("Default", self.default),
        ):
            if value is not None:
                stored[key] = value
        return stored


class RobotFields(BaseModel):
    """The fields of a robot that `bizproc.robot.add` and `.update` share."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    handler: str = Field(alias="HANDLER")
    name: Localized = Field(alias="NAME")
    description: Localized | None = Field(default=None, alias="DESCRIPTION")
    auth_user_id: int | None = Field(default=None, alias="AUTH_USER_ID")
    use_subscription: YesNo | None = Field(default=None, alias="USE_SUBSCRIPTION")
    properties: dict[str, RobotProperty] = Field(default_factory=dict, alias="PROPERTIES")
    return_properties: dict[str, RobotProperty] = Field(
        default_factory=dict, alias="RETURN_PROPERTIES"
    )
    document_type: tuple[str, str, str] | None = Field(default=None, alias="DOCUMENT_TYPE")
    filter: dict[str, list[list[str] | str]] | None = Field(default=None, alias="FILTER")

    def to_portal(self) -> dict[str, Any]:
        """The fields by their portal names, unset ones left out."""
        stored: dict[str, Any] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None or value == {}:
                continue
            if name in ("properties", "return_properties"):
                value = {key: prop.to_portal() for key, prop in value.items()}
            elif isinstance(value, tuple):
                value = list(value)
            stored[info.alias or name] = value
        return stored


class AddRobot(PortalMethod[bool]):
    """`bizproc.robot.add`: register a robot (ERROR_ACTIVITY_ALREADY_INSTALLED if its code is)."""

    __api_method__: ClassVar[str] = "bizproc.robot.add"
    __returning__: ClassVar[Any] = bool
    __idempotent__: ClassVar[bool] = False

    code: str
    fields: RobotFields

    def params(self) -> dict[str, Any]:
        """CODE beside the fields, at the top level."""
        return {"CODE": self.code, **self.fields.to_portal()}


class UpdateRobot(PortalMethod[bool]):
    """`bizproc.robot.update`: change a registered robot (ERROR_ACTIVITY_NOT_FOUND if none)."""

    __api_method__: ClassVar[str] = "bizproc.robot.update"
    __returning__: ClassVar[Any] = bool

    code: str
    fields: RobotFields

    def params(self) -> dict[str, Any]:
        """CODE and FIELDS."""
        return {"CODE": self.code, "FIELDS": self.fields.to_portal()}


class ListRobots(PortalMethod[list[str]]):
    """`bizproc.robot.list`: the codes of the application's robots."""

    __api_method__: ClassVar[str] = "bizproc.robot.list"
    __returning__: ClassVar[Any] = list[str]


class DeleteRobot(PortalMethod[bool]):
    """`bizproc.robot.delete`: remove a robot by its code."""

    __api_method__: ClassVar[str] = "bizproc.robot.delete"
    __returning__: ClassVar[Any] = bool

    code: str = Field(alias="CODE")


class SendBizprocEvent(PortalMethod[bool]):
    """`bizproc.event.send`: the robot's return values, for the call that waits for them.

    ACCESS_DENIED when the `event_token` is unknown or has expired.
    """

    __api_method__: ClassVar[str] = "bizproc.event.send"
    __returning__: ClassVar[Any] = bool
    # Sending the same values again for the same token changes nothing more.
    __idempotent__: ClassVar[bool] = True

    event_token: str = Field(alias="EVENT_TOKEN")
    return_values: dict[str, str] = Field(default_factory=dict, alias="RETURN_VALUES")
    log_message: str | None = Field(default=None, alias="LOG_MESSAGE")

    def __repr__(self) -> str:
        return "SendBizprocEvent(event_token=…)"
