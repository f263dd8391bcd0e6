"""The bot's own `auth_connector` goes on CRM writes only, batch commands included."""

from __future__ import annotations

import pytest

from bot.portal.batch import BatchCommand, build_cmd
from bot.portal.connector import AuthConnectorMiddleware, is_crm_write


def test_crm_writes_carry_the_connector_and_reads_and_event_calls_do_not() -> None:
    middleware = AuthConnectorMiddleware("telegram_bot")
    update = {"id": 5, "fields": {"STATUS_ID": "PROCESSED"}}
    assert middleware.params("crm.lead.update", update) == {
        **update,
        "auth_connector": "telegram_bot",
    }
    assert middleware.params("crm.timeline.comment.add", {})["auth_connector"] == "telegram_bot"
    for method in ("crm.lead.get", "crm.lead.list", "user.current", "event.bind", "app.info"):
        params = {"id": 5}
        assert middleware.params(method, params) is params


def test_batch_write_commands_get_the_connector_read_commands_stay_as_they_were() -> None:
    middleware = AuthConnectorMiddleware("telegram_bot")
    cmd = build_cmd(
        {
            "lead": BatchCommand("crm.lead.get", {"id": 5}),
            "move": BatchCommand("crm.lead.update", {"id": 5, "fields": {"STATUS_ID": "X"}}),
            "bare": BatchCommand("crm.lead.delete"),
        }
    )
    sent = middleware.params("batch", {"halt": 0, "cmd": cmd})
    assert sent["cmd"]["lead"] == cmd["lead"]
    assert sent["cmd"]["move"] == cmd["move"] + "&auth_connector=telegram_bot"
    assert sent["cmd"]["bare"] == "crm.lead.delete?auth_connector=telegram_bot"
    reads = {"halt": 0, "cmd": {"lead": cmd["lead"]}}
    assert middleware.params("batch", reads) is reads


@pytest.mark.parametrize("name", ["", "two words", "a&b=c", "x" * 65])
def test_a_connector_that_would_break_a_query_string_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="connector"):
        AuthConnectorMiddleware(name)


def test_which_methods_write_crm_data() -> None:
    assert is_crm_write("crm.lead.productrows.set")
    assert is_crm_write("CRM.LEAD.ADD")
    assert not is_crm_write("crm.lead.contact.items.get")
    assert not is_crm_write("bizproc.event.send")
