"""Small durable settings stored as JSON."""

from __future__ import annotations

import pytest

from bot.storage import Database, KeyValueRepository, NotJsonError
from tests.fixtures_storage import Backend


async def test_poller_watermark_round_trips_and_is_replaced(db: Database) -> None:
    kv = KeyValueRepository(db)
    assert await kv.get("poller.watermark") is None
    assert await kv.get("poller.watermark", "never") == "never"
    await kv.set("poller.watermark", {"date_modify": "2026-03-01T10:00:00+03:00", "id": 41})
    await kv.set("poller.watermark", {"date_modify": "2026-03-01T11:00:00+03:00", "id": 42})
    assert await kv.get("poller.watermark") == {
        "date_modify": "2026-03-01T11:00:00+03:00",
        "id": 42,
    }


async def test_portal_tokens_survive_restart(backend: Backend) -> None:
    tokens = {"access": "a-token", "refresh": "r-token", "expires_in": 3600}
    async with backend.database() as db:
        await KeyValueRepository(db).set("portal.oauth", tokens, durable=True)
    async with backend.database() as db:
        assert await KeyValueRepository(db).get("portal.oauth") == tokens


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),
        {1: "int key"},
        {"nested": [{"when": object()}]},
        float("nan"),
        {"x": {1, 2}},
    ],
)
async def test_values_that_would_change_in_json_are_refused(db: Database, value: object) -> None:
    kv = KeyValueRepository(db)
    with pytest.raises(NotJsonError):
        await kv.set("bad", value)
    assert await kv.get("bad") is None


async def test_delete_reports_whether_key_existed(db: Database) -> None:
    kv = KeyValueRepository(db)
    await kv.set("form.optional_fields", ["UF_CRM_1", "COMMENTS"])
    assert await kv.delete("form.optional_fields")
    assert not await kv.delete("form.optional_fields")
    assert await kv.get("form.optional_fields") is None
