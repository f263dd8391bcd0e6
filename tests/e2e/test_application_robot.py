"""The "Send to Telegram" automation rule: registered at install, run by the portal, answered.

The portal emulator runs the rule the way the portal does when a lead reaches the stage it
is set on: property values evaluated against the lead, the call POSTed to the bot, and the
outcome expected back through `bizproc.event.send`.
"""

from __future__ import annotations

from typing import Any

from bot.install.robot import ROBOT_CODE
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, eventually
from tests.e2e.lead_fixtures import (
    IVAN_PORTAL_ID,
    IVAN_TELEGRAM_ID,
    OLGA_PORTAL_ID,
    anna,
    ivan,
    text_of,
)
from tests.e2e.test_application_mode import (  # noqa: F401  (the fixture)
    AppModeBot,
    app_bot,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.bitrix24_robots import RobotRun
from tests.emulators.telegram import TelegramEmulator

GROUP_ID = -4001


async def installed(running: AppModeBot, portal: Bitrix24Emulator) -> None:
    answer = await portal.install_app(running.install_url)
    assert answer.status == 200


async def outcome(portal: Bitrix24Emulator, run: RobotRun) -> dict[str, Any]:
    """What came back through bizproc.event.send for the run."""

    async def answered() -> bool:
        return portal.robot_run(run.event_token).returned is not None

    await eventually(answered)
    returned = portal.robot_run(run.event_token).returned
    assert returned is not None
    return returned


def to_responsible(message: str) -> dict[str, str]:
    return {"recipient": "responsible", "group": "", "message": message}


async def test_install_registers_the_rule_and_a_reinstall_updates_it(
    app_bot: AppModeBot,  # noqa: F811
    portal_emulator: Bitrix24Emulator,
) -> None:
    await installed(app_bot, portal_emulator)
    robot = portal_emulator.robots.robots[ROBOT_CODE]
    assert robot.handler == f"{app_bot.settings.app.public_url}/b24/robot"
    assert robot.fields["NAME"] == {"en": "Send to Telegram", "ru": "Отправить в Telegram"}
    assert robot.fields["USE_SUBSCRIPTION"] == "Y"
    assert sorted(robot.fields["PROPERTIES"]) == ["group", "message", "recipient"]
    assert robot.fields["PROPERTIES"]["recipient"]["Type"] == "select"
    assert sorted(robot.fields["RETURN_PROPERTIES"]) == ["delivered", "error"]
    assert robot.fields["DOCUMENT_TYPE"] == ["crm", "CCrmDocumentLead", "LEAD"]

    await installed(app_bot, portal_emulator)
    assert portal_emulator.count_calls("bizproc.robot.add") == 2
    assert portal_emulator.count_calls("bizproc.robot.update") == 1
    assert list(portal_emulator.robots.robots) == [ROBOT_CODE]


async def test_rule_sends_the_lead_to_its_responsible_and_reports_delivery(
    app_bot: AppModeBot,  # noqa: F811
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await installed(app_bot, portal_emulator)
    rep = await ivan(telegram_emulator)
    lead_id = portal_emulator.add_lead(
        {"TITLE": "Pipes <b>& co</b>", "ASSIGNED_BY_ID": IVAN_PORTAL_ID}, IVAN_PORTAL_ID
    )
    run = await portal_emulator.run_robot(
        ROBOT_CODE, lead_id, to_responsible("Call {=Document:TITLE} <i>today</i>")
    )
    assert run.answer is not None
    assert run.answer.status == 200
    message = await rep.wait_for_message(lambda m: f"#{lead_id}" in text_of(m))
    assert "Call Pipes <b>& co</b> <i>today</i>" in text_of(message)
    assert "📇 Open card" in message.labels
    assert await outcome(portal_emulator, run) == {"delivered": "Y", "error": ""}


async def test_responsible_not_in_the_bot_gets_nothing_and_the_portal_hears_why(
    app_bot: AppModeBot,  # noqa: F811
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await installed(app_bot, portal_emulator)
    lead_id = portal_emulator.add_lead({"TITLE": "Olga's", "ASSIGNED_BY_ID": OLGA_PORTAL_ID}, 1)
    run = await portal_emulator.run_robot(ROBOT_CODE, lead_id, to_responsible("Hello"))
    returned = await outcome(portal_emulator, run)
    assert returned["delivered"] == "N"
    assert "Olga" in returned["error"]
    assert "not signed in" in returned["error"]
    missing = await portal_emulator.run_robot(ROBOT_CODE, 9999, to_responsible("Hello"))
    assert await outcome(portal_emulator, missing) == {
        "delivered": "N",
        "error": "Lead #9999 was not found in the portal.",
    }
    sent = [c for c in telegram_emulator.calls_of("sendMessage") if "Hello" in str(c)]
    assert sent == []


async def test_a_responsible_who_blocked_the_bot_is_reported_as_not_delivered(
    app_bot: AppModeBot,  # noqa: F811
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await installed(app_bot, portal_emulator)
    await ivan(telegram_emulator)
    telegram_emulator.block(IVAN_TELEGRAM_ID)
    lead_id = portal_emulator.add_lead({"TITLE": "Blocked", "ASSIGNED_BY_ID": 2}, 2)
    run = await portal_emulator.run_robot(ROBOT_CODE, lead_id, to_responsible("Hi"))
    returned = await outcome(portal_emulator, run)
    assert returned["delivered"] == "N"
    assert returned["error"].startswith("Telegram did not take the message: chat gone")
    assert portal_emulator.robot_run(run.event_token).log_message == returned["error"]


async def test_forged_calls_are_refused_and_send_nothing(
    app_bot: AppModeBot,  # noqa: F811
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await installed(app_bot, portal_emulator)
    rep = await ivan(telegram_emulator)
    lead_id = portal_emulator.add_lead({"TITLE": "Target", "ASSIGNED_BY_ID": 2}, 2)
    robot = portal_emulator.robots.robots[ROBOT_CODE]
    url = robot.handler
    body = portal_emulator.robot_payload(robot, lead_id, to_responsible("Forged"), 1, "t|1|x")
    forged = {**body, "auth": {**body["auth"], "application_token": "guessed"}}
    elsewhere = {**body, "auth": {**body["auth"], "member_id": "another-portal"}}
    not_ours = {**body, "code": "someone_elses_robot"}
    a_deal = {**body, "document_id": ["crm", "CCrmDocumentDeal", "DEAL_5"]}
    for payload, status in ((forged, 401), (elsewhere, 403), (not_ours, 400), (a_deal, 400)):
        assert (await portal_emulator.post_form(url, payload)).status == status
    rows = await app_bot.running.db.fetch_all("SELECT key FROM kv WHERE key LIKE 'robot.%'")
    assert rows == []
    # A genuine call after them gets through: nothing above was sent.
    run = await portal_emulator.run_robot(ROBOT_CODE, lead_id, to_responsible("Genuine"))
    await rep.wait_for_message(lambda m: "Genuine" in text_of(m))
    await outcome(portal_emulator, run)
    assert [m for m in rep.transcript() if "Forged" in text_of(m)] == []


async def test_a_repeated_call_sends_once(
    app_bot: AppModeBot,  # noqa: F811
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await installed(app_bot, portal_emulator)
    rep = await ivan(telegram_emulator)
    lead_id = portal_emulator.add_lead({"TITLE": "Once", "ASSIGNED_BY_ID": 2}, 2)
    run = await portal_emulator.run_robot(ROBOT_CODE, lead_id, to_responsible("Only once"))
    again = await portal_emulator.run_robot(
        ROBOT_CODE, lead_id, to_responsible("Only once"), event_token=run.event_token
    )
    assert again.answer is not None
    assert again.answer.status == 200
    await outcome(portal_emulator, run)
    third = await portal_emulator.run_robot(
        ROBOT_CODE, lead_id, to_responsible("Only once"), event_token=run.event_token
    )
    assert third.answer is not None
    assert third.answer.status == 200
    fence = await portal_emulator.run_robot(ROBOT_CODE, lead_id, to_responsible("Fence"))
    await outcome(portal_emulator, fence)
    assert len([m for m in rep.transcript() if "Only once" in text_of(m)]) == 1
    assert portal_emulator.count_calls("bizproc.event.send") == 2


async def test_a_long_template_is_cut_with_a_note(
    app_bot: AppModeBot,  # noqa: F811
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await installed(app_bot, portal_emulator)
    rep = await ivan(telegram_emulator)
    lead_id = portal_emulator.add_lead({"TITLE": "Long", "ASSIGNED_BY_ID": 2}, 2)
    run = await portal_emulator.run_robot(ROBOT_CODE, lead_id, to_responsible("<x>" * 1700))
    message = await rep.wait_for_message(lambda m: f"#{lead_id}" in text_of(m))
    assert "(cut: 1600 more characters)" in text_of(message)
    assert len(text_of(message)) < 4096
    assert await outcome(portal_emulator, run) == {"delivered": "Y", "error": ""}


async def test_rule_posts_to_a_subscribed_team_group_by_its_title(
    app_bot: AppModeBot,  # noqa: F811
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await installed(app_bot, portal_emulator)
    admin = await anna(telegram_emulator)
    telegram_emulator.add_group(GROUP_ID, "Sales Team", admins=[ADMIN_TELEGRAM_ID])
    in_group = admin.in_group(GROUP_ID)
    await in_group.send("/subscribe")
    await in_group.wait_for_message(lambda m: "Preview" in text_of(m))
    lead_id = portal_emulator.add_lead({"TITLE": "For the team", "ASSIGNED_BY_ID": 3}, 1)
    to_group = {"recipient": "group", "group": "sales team", "message": "{=Document:TITLE}!"}
    run = await portal_emulator.run_robot(ROBOT_CODE, lead_id, to_group)
    posted = await in_group.wait_for_message(lambda m: "For the team!" in text_of(m))
    card = posted.button("📇 Open card")
    assert card.url is not None
    assert card.url.endswith(f"?start=lead_{lead_id}")
    assert await outcome(portal_emulator, run) == {"delivered": "Y", "error": ""}

    unknown = {**to_group, "group": "Marketing"}
    run = await portal_emulator.run_robot(ROBOT_CODE, lead_id, unknown)
    returned = await outcome(portal_emulator, run)
    assert returned["delivered"] == "N"
    assert "Marketing" in returned["error"]


async def test_a_call_taken_before_a_restart_is_still_sent_and_answered(
    app_bot: AppModeBot,  # noqa: F811
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await installed(app_bot, portal_emulator)
    rep = await ivan(telegram_emulator)
    lead_id = portal_emulator.add_lead({"TITLE": "Survives", "ASSIGNED_BY_ID": 2}, 2)
    # The portal cannot be read: the call is taken (200) and waits in its first step.
    portal_emulator.faults.refuse_method("crm.lead.get", "ERROR_CORE", "boom", 500)
    run = await portal_emulator.run_robot(ROBOT_CODE, lead_id, to_responsible("After restart"))
    assert run.answer is not None
    assert run.answer.status == 200
    await app_bot.stop()
    portal_emulator.faults.refusals.clear()
    await app_bot.start()
    await rep.wait_for_message(lambda m: "After restart" in text_of(m))
    assert await outcome(portal_emulator, run) == {"delivered": "Y", "error": ""}
