"""To-do activities of the Bitrix24 emulator (b24restdocs `crm/timeline/activities/`).

What it keeps: universal to-dos (`PROVIDER_ID` `CRM_TODO`) on leads, deals, contacts and
companies, with `SUBJECT`, `DESCRIPTION`, `DEADLINE` (also `START_TIME`/`END_TIME`),
`COMPLETED`, `STATUS`, `RESPONSIBLE_ID`, `AUTHOR_ID`/`EDITOR_ID`, `CREATED`/`LAST_UPDATED`;
`crm.activity.list` filters, orders and pages them like every classic list (50 a page).

Errors as documented:
- `crm.activity.todo.add` / `updateDeadline`: `100` when `ownerTypeId`, `ownerId` or the
  deadline is missing; `OWNER_NOT_FOUND` for an owner type that has no timeline here;
  `NOT_FOUND` for an owner (or, moving a deadline, a to-do of that owner) that does not
  exist; `WRONG_DATETIME_FORMAT` for a deadline that is not a date and time;
  `ACCESS_DENIED` when the caller may not edit the owner (not an admin and not its
  responsible); `CAN_NOT_UPDATE_COMPLETED_TODO` when moving a completed to-do.
- `crm.activity.get` / `update`: `""` with "Activity is not found" and "Access denied." (the
  classic methods answer an empty code); `update` takes `COMPLETED`, `SUBJECT`,
  `DESCRIPTION` and `RESPONSIBLE_ID`.
"""

from __future__ import annotations

from typing import Any

from tests.emulators.bitrix24_crm import CrmError, CrmTable, FieldSpec, parse_datetime
from tests.emulators.bitrix24_php import php_int
from tests.emulators.bitrix24_state import EmulatorState

TODO_PROVIDER = "CRM_TODO"
TODO_TYPE_ID = "6"  # crm_enum_activitytype: 6 is the provider ("universal") activity
OWNER_TYPES = {1: "LEAD", 2: "DEAL", 3: "CONTACT", 4: "COMPANY"}


def _field(name: str, type_: str, *, read_only: bool = False) -> FieldSpec:
    return FieldSpec(name=name, type=type_, title=name, read_only=read_only)


ACTIVITY_FIELDS = (
    _field("ID", "integer", read_only=True),
    _field("OWNER_ID", "integer"),
    _field("OWNER_TYPE_ID", "integer"),
    _field("TYPE_ID", "integer"),
    _field("PROVIDER_ID", "string", read_only=True),
    _field("PROVIDER_TYPE_ID", "string"),
    _field("SUBJECT", "string"),
    _field("DESCRIPTION", "string"),
    _field("CREATED", "datetime", read_only=True),
    _field("LAST_UPDATED", "datetime", read_only=True),
    _field("START_TIME", "datetime"),
    _field("END_TIME", "datetime"),
    _field("DEADLINE", "datetime", read_only=True),
    _field("COMPLETED", "char"),
    _field("STATUS", "integer"),
    _field("RESPONSIBLE_ID", "user"),
    _field("PRIORITY", "integer"),
    _field("AUTHOR_ID", "user", read_only=True),
    _field("EDITOR_ID", "user", read_only=True),
)

STATUS_WAITING = "1"
STATUS_COMPLETED = "2"


class ActivitiesArea(EmulatorState):
    """Universal to-dos: add, move the deadline, complete, get, list."""

    @property
    def activities_table(self) -> CrmTable:
        """Stored activities (created on first use: they belong to this area alone)."""
        table: CrmTable | None = getattr(self, "_activities_table", None)
        if table is None:
            table = CrmTable("ACTIVITY", ACTIVITY_FIELDS, self.tz)
            self._activities_table = table
        return table

    @property
    def activities(self) -> dict[int, dict[str, Any]]:
        """Stored activities keyed by id, in the shape crm.activity.get returns."""
        return self.activities_table.rows

    def _owner_row(self, owner_type_id: int, owner_id: int) -> dict[str, Any]:
        tables = {
            1: self.leads_table.rows,
            2: self.deals_table.rows,
            3: self.contacts_table.rows,
            4: self.companies,
        }
        if owner_type_id not in tables:
            raise CrmError("Owner of the entity not found", "OWNER_NOT_FOUND")
        row = tables[owner_type_id].get(owner_id)
        if row is None:
            raise CrmError("Not found.", "NOT_FOUND")
        return row

    def _check_may_edit(self, owner: dict[str, Any], user_id: int) -> None:
        """Only an admin or the owner's responsible may edit it (the emulator's CRM rights)."""
        if self.portal.is_admin(user_id):
            return
        if php_int(owner.get("ASSIGNED_BY_ID") or 0) != user_id:
            raise CrmError("Access denied.", "ACCESS_DENIED")

    def _deadline(self, value: Any) -> str:
        if value is None or value == "":
            raise CrmError("Required fields are missing", "100")
        moment = parse_datetime(value, self.tz)
        if moment is None:
            raise CrmError("Incorrect date format", "WRONG_DATETIME_FORMAT")
        return moment.astimezone(self.tz).replace(microsecond=0).isoformat()

    @staticmethod
    def _owner_of(params: dict[str, Any]) -> tuple[int, int]:
        raw_type, raw_id = params.get("ownerTypeId"), params.get("ownerId")
        if raw_type in (None, "") or raw_id in (None, ""):
            raise CrmError("Required fields are missing", "100")
        return php_int(raw_type), php_int(raw_id)

    def add_todo(self, params: dict[str, Any], user_id: int) -> int:
        """crm.activity.todo.add semantics; returns the new id."""
        owner_type_id, owner_id = self._owner_of(params)
        deadline = self._deadline(params.get("deadline"))
        owner = self._owner_row(owner_type_id, owner_id)
        self._check_may_edit(owner, user_id)
        responsible = php_int(params.get("responsibleId") or 0) or user_id
        now = self.now_text()
        row = {
            "OWNER_ID": str(owner_id),
            "OWNER_TYPE_ID": str(owner_type_id),
            "TYPE_ID": TODO_TYPE_ID,
            "PROVIDER_ID": TODO_PROVIDER,
            "PROVIDER_TYPE_ID": "TODO",
            "SUBJECT": str(params.get("title") or ""),
            "DESCRIPTION": str(params.get("description") or ""),
            "CREATED": now,
            "LAST_UPDATED": now,
            "START_TIME": deadline,
            "END_TIME": deadline,
            "DEADLINE": deadline,
            "COMPLETED": "N",
            "STATUS": STATUS_WAITING,
            "RESPONSIBLE_ID": str(responsible),
            "PRIORITY": "2",
            "AUTHOR_ID": str(user_id),
            "EDITOR_ID": str(user_id),
        }
        return self.activities_table.insert(row)

    def update_todo_deadline(self, params: dict[str, Any], user_id: int) -> int:
        """crm.activity.todo.updateDeadline semantics; returns the to-do's id."""
        activity_id = php_int(params.get("id") or 0)
        owner_type_id, owner_id = self._owner_of(params)
        if activity_id <= 0:
            raise CrmError("Required fields are missing", "100")
        deadline = self._deadline(params.get("value"))
        owner = self._owner_row(owner_type_id, owner_id)
        row = self.activities.get(activity_id)
        if (
            row is None
            or row.get("PROVIDER_ID") != TODO_PROVIDER
            or (php_int(row["OWNER_TYPE_ID"]), php_int(row["OWNER_ID"]))
            != (owner_type_id, owner_id)
        ):
            raise CrmError("Not found.", "NOT_FOUND")
        self._check_may_edit(owner, user_id)
        if row["COMPLETED"] == "Y":
            raise CrmError(
                "Completed activity cannot be modified", "CAN_NOT_UPDATE_COMPLETED_TODO"
            )
        row.update(
            {
                "DEADLINE": deadline,
                "START_TIME": deadline,
                "END_TIME": deadline,
                "LAST_UPDATED": self.now_text(),
                "EDITOR_ID": str(user_id),
            }
        )
        return activity_id

    def _activity(self, activity_id: int) -> dict[str, Any]:
        row = self.activities.get(activity_id) if activity_id > 0 else None
        if row is None:
            raise CrmError("Activity is not found")
        return row

    def get_activity(self, activity_id: int, user_id: int) -> dict[str, Any]:
        """crm.activity.get semantics (an owner the caller may not edit is refused)."""
        row = self._activity(activity_id)
        owner = self._owner_row(php_int(row["OWNER_TYPE_ID"]), php_int(row["OWNER_ID"]))
        try:
            self._check_may_edit(owner, user_id)
        except CrmError:
            raise CrmError("Access denied.") from None
        return self.activities_table.render(row, for_list=False)

    def update_activity(self, activity_id: int, fields: Any, user_id: int) -> None:
        """crm.activity.update semantics for the fields a to-do takes."""
        row = self._activity(activity_id)
        if not isinstance(fields, dict):
            raise CrmError("The parameter 'fields' must be array.")
        owner = self._owner_row(php_int(row["OWNER_TYPE_ID"]), php_int(row["OWNER_ID"]))
        try:
            self._check_may_edit(owner, user_id)
        except CrmError:
            raise CrmError("Access denied.") from None
        if "COMPLETED" in fields:
            done = str(fields["COMPLETED"]).upper() in ("Y", "1", "TRUE")
            row["COMPLETED"] = "Y" if done else "N"
            row["STATUS"] = STATUS_COMPLETED if done else STATUS_WAITING
        for key in ("SUBJECT", "DESCRIPTION"):
            if key in fields:
                row[key] = str(fields[key] or "")
        if "RESPONSIBLE_ID" in fields:
            responsible = php_int(fields["RESPONSIBLE_ID"] or 0)
            if responsible <= 0:
                raise CrmError("The field RESPONSIBLE_ID is not defined or invalid.")
            row["RESPONSIBLE_ID"] = str(responsible)
        row["LAST_UPDATED"] = self.now_text()
        row["EDITOR_ID"] = str(user_id)
