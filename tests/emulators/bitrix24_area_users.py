"""Portal users of the Bitrix24 emulator: the default team, adding users, who is admin."""

from __future__ import annotations

from typing import Any

from tests.emulators.bitrix24_state import EmulatorState

DEFAULT_USERS: list[dict[str, Any]] = [
    {
        "ID": 1,
        "NAME": "Anna",
        "LAST_NAME": "Admin",
        "EMAIL": "anna.admin@example.test",
        "PERSONAL_MOBILE": "+79160000001",
        "WORK_POSITION": "Administrator",
        "is_admin": True,
    },
    {
        "ID": 2,
        "NAME": "Ivan",
        "LAST_NAME": "Petrov",
        "EMAIL": "ivan.petrov@example.test",
        "PERSONAL_MOBILE": "+79161234567",
        "WORK_POSITION": "Sales representative",
    },
    {
        "ID": 3,
        "NAME": "Olga",
        "LAST_NAME": "Smirnova",
        "EMAIL": "olga.smirnova@example.test",
        "PERSONAL_MOBILE": "+79162345678",
        "WORK_PHONE": "+74951234567",
        "WORK_POSITION": "Sales manager",
    },
    {
        "ID": 4,
        "NAME": "Pavel",
        "LAST_NAME": "Former",
        "EMAIL": "pavel.former@example.test",
        "PERSONAL_MOBILE": "+79163456789",
        "WORK_POSITION": "Sales representative",
        "ACTIVE": False,
    },
]
"""Default portal users: 1 admin Anna Admin, 2 rep Ivan Petrov (+79161234567), 3 Olga Smirnova,
4 an inactive former employee."""


class UsersArea(EmulatorState):
    """Portal users (user.get, user.current, the admin flag)."""

    def seed_default_users(self) -> None:
        """Add DEFAULT_USERS."""
        for spec in DEFAULT_USERS:
            data = dict(spec)
            self.add_user(
                user_id=int(data.pop("ID")),
                name=str(data.pop("NAME")),
                last_name=str(data.pop("LAST_NAME")),
                active=bool(data.pop("ACTIVE", True)),
                is_admin=bool(data.pop("is_admin", False)),
                **data,
            )

    def add_user(
        self,
        name: str,
        last_name: str = "",
        *,
        user_id: int | None = None,
        email: str | None = None,
        personal_mobile: str | None = None,
        work_phone: str | None = None,
        active: bool = True,
        is_admin: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Add a portal user; extra keys (EMAIL, PERSONAL_MOBILE, UF_DEPARTMENT...) are stored."""
        new_id = user_id if user_id is not None else max(self.users, default=0) + 1
        registered = self.now_text()
        user: dict[str, Any] = {
            "ID": str(new_id),
            "XML_ID": None,
            "ACTIVE": active,
            "NAME": name,
            "LAST_NAME": last_name,
            "SECOND_NAME": "",
            "EMAIL": email or "",
            "LAST_LOGIN": registered,
            "DATE_REGISTER": registered,
            "TIME_ZONE": "",
            "IS_ONLINE": "N",
            "TIMESTAMP_X": registered,
            "PERSONAL_GENDER": "",
            "PERSONAL_PHONE": "",
            "PERSONAL_MOBILE": personal_mobile or "",
            "PERSONAL_CITY": "",
            "WORK_PHONE": work_phone or "",
            "WORK_POSITION": "",
            "UF_DEPARTMENT": [1],
            "USER_TYPE": "employee",
        }
        for key, value in extra.items():
            user[key.upper()] = value
        self.users[new_id] = user
        if is_admin:
            self.admin_ids.add(new_id)
        return user

    def is_admin(self, user_id: int) -> bool:
        """Whether the user is a portal administrator."""
        return user_id in self.admin_ids
