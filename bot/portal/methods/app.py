"""The application itself: `app.info`."""

from __future__ import annotations

from typing import Any, ClassVar

from bot.portal.methods.base import PortalMethod
from bot.portal.models import AppInfo

__all__ = ["GetAppInfo"]


class GetAppInfo(PortalMethod[AppInfo]):
    """`app.info` (OAuth only: a webhook gets ACCESS_DENIED "Application context required")."""

    __api_method__: ClassVar[str] = "app.info"
    __returning__: ClassVar[Any] = AppInfo
