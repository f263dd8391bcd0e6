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


async def test_many_values_are_read_and_written_at_once(db: Database) -> None:
    kv = KeyValueRepository(db)
    await kv.set("nudge.last.1", "2026-03-01")
    keys = [f"nudge.last.{n}" for n in range(1, 1201)]  # more than one read's worth
    assert await kv.get_many(keys) == {"nudge.last.1": "2026-03-01"}
    await kv.set_many(dict.fromkeys(keys[:1100], "2026-03-02") | {"other": {"a": [1]}})
    found = await kv.get_many([*keys, "other", "nudge.last.1"])
    assert len(found) == 1101
    assert found["nudge.last.1"] == "2026-03-02"  # replaced
    assert found["nudge.last.1100"] == "2026-03-02"
    assert "nudge.last.1101" not in found
    assert found["other"] == {"a": [1]}
    assert await kv.get_many([]) == {}
    await kv.set_many({})


async def test_a_value_json_would_change_refuses_the_whole_set(db: Database) -> None:
    kv = KeyValueRepository(db)
    with pytest.raises(NotJsonError):
        await kv.set_many({"good": 1, "bad": (1, 2)})
    assert await kv.get_many(["good", "bad"]) == {}
