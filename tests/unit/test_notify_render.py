"""What a notification says: the diff of two snapshots, escaped HTML, the length cap, buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from bot.access.roles import Identity
from bot.i18n import Translations, Translator
from bot.notify.diff import ChangedField, created_since, diff_lead
from bot.notify.match import SubscriptionIndex, may_receive, subscription_wants
from bot.notify.render import MAX_MESSAGE_LENGTH, Author, Links, Names, render_buttons, render_text
from bot.storage import Role
from bot.storage.subscriptions import EventKind, Scope, Subscription

STAGES = {"NEW": "New", "IN_PROCESS": "In progress"}
NAMES = Names(
    stage=lambda code: STAGES.get(code or "", code or ""),
    source=lambda code: {"WEB": "Website"}.get(code or "", code or ""),
    users={1: "Anna Admin", 2: "Ivan Petrov"},
)
LINKS = Links(bot_username="leads_bot", portal_base="https://portal.example")


def lead(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "ID": 7,
        "TITLE": "Pipes",
        "STATUS_ID": "NEW",
        "ASSIGNED_BY_ID": 1,
        "SOURCE_ID": "WEB",
        "OPPORTUNITY": "100.00",
        "CURRENCY_ID": "RUB",
        "NAME": "Petr",
        "LAST_NAME": None,
        "COMPANY_TITLE": None,
        "MODIFY_BY_ID": 1,
        "DATE_MODIFY": "2026-01-01T10:00:00+03:00",
    }
    base.update(fields)
    return base


@pytest.fixture(scope="module")
def tr() -> Translator:
    return Translations.load(strict=True).for_language("en")


class TagBalance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in {"b", "i", "code"}, tag
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text += data


def plain(html: str) -> str:
    parser = TagBalance()
    parser.feed(html)
    parser.close()
    assert parser.open == []
    return parser.text


def test_a_lead_without_snapshot_is_new_only_when_said_so() -> None:
    added = diff_lead(7, None, lead(), is_new=True)
    assert added is not None
    assert added.kind is EventKind.ADDED
    first_change = diff_lead(7, None, lead())
    assert first_change is not None
    assert first_change.kind is EventKind.CHANGED
    assert first_change.changes == ()
    deleted = diff_lead(7, lead(), None)
    assert deleted is not None
    assert deleted.kind is EventKind.DELETED
    assert diff_lead(7, None, None) is None


def test_delete_of_a_lead_never_seen_is_told_from_what_the_event_carried(tr: Translator) -> None:
    deleted = diff_lead(7, None, None, deleted={"ID": "7"})
    assert deleted is not None
    assert deleted.kind is EventKind.DELETED
    text = plain(render_text(tr, deleted, NAMES, None))
    assert text.startswith("🗑 Lead #7 deleted")
    assert "had not seen this lead" in text
    assert "Stage" not in text
    assert render_buttons(tr, deleted, LINKS, is_group=False) == ()
    titled = diff_lead(7, None, None, deleted={"TITLE": "Pipes <x>"})
    assert titled is not None
    assert "Lead #7 deleted: Pipes <x>" in plain(render_text(tr, titled, NAMES, None))


def test_first_change_without_snapshot_says_what_the_lead_is_now(tr: Translator) -> None:
    change = diff_lead(7, None, lead(STATUS_ID="IN_PROCESS"))
    assert change is not None
    text = plain(render_text(tr, change, NAMES, Author("Anna Admin")))
    assert text.startswith("✏️ Lead #7: Pipes")
    assert "New lead" not in text
    assert "Stage: In progress" in text
    assert "Responsible: Anna Admin" in text


def test_created_since_compares_whole_seconds_and_needs_a_zone() -> None:
    watching = datetime(2026, 1, 1, 7, 0, 0, 500_000, tzinfo=UTC)
    assert created_since({"DATE_CREATE": "2026-01-01T10:00:00+03:00"}, watching)
    assert not created_since({"DATE_CREATE": "2026-01-01T09:59:59+03:00"}, watching)
    assert not created_since({"DATE_CREATE": "2026-01-01T10:00:00"}, watching)
    assert not created_since({"DATE_CREATE": ""}, watching)
    assert not created_since({}, watching)


def test_same_tracked_fields_mean_nothing_happened() -> None:
    assert diff_lead(7, lead(), lead(DATE_MODIFY="2026-01-01T10:05:00+03:00")) is None


def test_stage_and_responsible_changes_read_with_names_and_author(tr: Translator) -> None:
    change = diff_lead(7, lead(), lead(STATUS_ID="IN_PROCESS", ASSIGNED_BY_ID=2))
    assert change is not None
    assert change.stage_changed
    assert change.kinds == {EventKind.CHANGED, EventKind.STAGE}
    assert [c.field for c in change.changes] == [ChangedField.STAGE, ChangedField.RESPONSIBLE]
    text = plain(render_text(tr, change, NAMES, Author("Ivan Petrov", via_bot=True)))
    assert "Stage: New → In progress" in text
    assert "Responsible: Anna Admin → Ivan Petrov" in text
    assert "by Ivan Petrov via the bot" in text


def test_every_value_is_escaped(tr: Translator) -> None:
    change = diff_lead(7, None, lead(TITLE="<b>Free</b> & <script>"), is_new=True)
    assert change is not None
    html = render_text(tr, change, NAMES, Author("<i>Eve</i>"))
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert "<b>Free</b> & <script>" in plain(html)


def test_huge_values_stay_within_telegrams_limit(tr: Translator) -> None:
    change = diff_lead(
        7, lead(), lead(TITLE="&" * 5000, NAME="<" * 5000, COMPANY_TITLE="x" * 9000)
    )
    assert change is not None
    html = render_text(tr, change, NAMES, Author("A" * 5000))
    assert len(html) <= MAX_MESSAGE_LENGTH
    plain(html)


def test_group_buttons_link_into_the_private_chat_and_private_ones_call_back(
    tr: Translator,
) -> None:
    change = diff_lead(7, None, lead())
    assert change is not None
    group = render_buttons(tr, change, LINKS, is_group=True)
    private = render_buttons(tr, change, LINKS, is_group=False)
    assert group[0][0].url == "https://t.me/leads_bot?start=lead_7"
    assert private[0][0].callback_data == "nl:card:7"
    assert group[0][1].callback_data == "nl:take:7"
    assert group[1][0].url == "https://portal.example/crm/lead/details/7/"
    assert all(len((b.callback_data or "").encode()) <= 64 for row in group for b in row)


def subscription(**fields: object) -> Subscription:
    values: dict[str, object] = {"id": 1, "chat_id": 100, "thread_id": None, "created_by": 100}
    values.update(fields)
    values.setdefault("scope", Scope.ALL)
    return Subscription(**values)  # type: ignore[arg-type]


REP = Identity(telegram_user_id=100, portal_user_id=2, role=Role.REP)
MANAGER = Identity(telegram_user_id=100, portal_user_id=3, role=Role.MANAGER)


def test_filters_by_kind_scope_stage_and_source() -> None:
    change = diff_lead(7, lead(), lead(STATUS_ID="IN_PROCESS"))
    assert change is not None
    assert subscription_wants(subscription(kinds=frozenset({EventKind.STAGE})), change, 3)
    assert not subscription_wants(subscription(kinds=frozenset({EventKind.ADDED})), change, 3)
    assert not subscription_wants(subscription(scope=Scope.MINE), change, 3)
    assert subscription_wants(subscription(scope=Scope.MINE), change, 1)
    assert subscription_wants(
        subscription(scope=Scope.USERS, responsible_ids=frozenset({1})), change, 3
    )
    assert not subscription_wants(subscription(stages=frozenset({"NEW"})), change, 3)
    assert not subscription_wants(subscription(sources=frozenset({"CALL"})), change, 3)


def test_reps_hear_only_about_their_leads_and_unbound_readers_hear_nothing() -> None:
    assert may_receive(REP, subscription(), 2)
    assert not may_receive(REP, subscription(), 1)
    assert may_receive(MANAGER, subscription(), 1)
    assert not may_receive(None, subscription(), 2)
    assert not may_receive(REP, subscription(chat_id=-100), 2)
    assert may_receive(MANAGER, subscription(chat_id=-100), 1)


def test_index_offers_a_change_only_to_subscriptions_keyed_on_its_responsible() -> None:
    rep = Identity(telegram_user_id=200, portal_user_id=2, role=Role.REP)
    manager = Identity(telegram_user_id=300, portal_user_id=3, role=Role.MANAGER)
    subs = [
        subscription(id=5, chat_id=300, created_by=300, scope=Scope.ALL),
        subscription(id=2, chat_id=200, created_by=200, scope=Scope.MINE),
        subscription(
            id=3, chat_id=-9, created_by=300, scope=Scope.USERS, responsible_ids=frozenset({1})
        ),
        subscription(id=4, chat_id=400, created_by=400, scope=Scope.ALL),  # unbound
        subscription(id=1, chat_id=300, created_by=300, scope=Scope.MINE),
    ]
    index = SubscriptionIndex(subs, {200: rep, 300: manager})
    assert index.size == 4

    def ids(change_lead: dict[str, object]) -> list[int]:
        change = diff_lead(7, lead(STATUS_ID="OLD"), change_lead)
        assert change is not None
        return [sub.id for sub, _ in index.matching(change)]

    assert ids(lead(ASSIGNED_BY_ID=2)) == [2, 5]
    assert ids(lead(ASSIGNED_BY_ID=1)) == [3, 5]
    assert ids(lead(ASSIGNED_BY_ID=3)) == [1, 5]
    assert ids(lead(ASSIGNED_BY_ID=None)) == [5]


def test_all_leads_subscriptions_filtered_by_stage_are_offered_only_that_stages_changes() -> None:
    manager = Identity(telegram_user_id=300, portal_user_id=3, role=Role.MANAGER)
    rep = Identity(telegram_user_id=200, portal_user_id=2, role=Role.REP)
    subs = [
        subscription(
            id=1, chat_id=300, created_by=300, scope=Scope.ALL, stages=frozenset({"WON"})
        ),
        subscription(
            id=2, chat_id=-5, created_by=300, scope=Scope.ALL, stages=frozenset({"NEW", "WON"})
        ),
        subscription(id=3, chat_id=-6, created_by=300, scope=Scope.ALL),
        subscription(id=4, chat_id=200, created_by=200, scope=Scope.MINE),
    ]
    index = SubscriptionIndex(subs, {200: rep, 300: manager})
    offered = [sub.id for sub, _ in index.candidates(2, "WON")]
    assert offered == [1, 2, 3, 4]  # by id, across the three parts of the index
    assert [sub.id for sub, _ in index.candidates(2, "NEW")] == [2, 3, 4]
    assert [sub.id for sub, _ in index.candidates(None, "LOST")] == [3]
    assert [sub.id for sub, _ in index.candidates(9, "")] == [3]

    def ids(stage: str) -> list[int]:
        change = diff_lead(7, lead(STATUS_ID="OLD"), lead(STATUS_ID=stage, ASSIGNED_BY_ID=2))
        assert change is not None
        return [sub.id for sub, _ in index.matching(change)]

    assert ids("WON") == [1, 2, 3, 4]
    assert ids("NEW") == [2, 3, 4]
    assert ids("LOST") == [3, 4]


def test_large_lead_ids_are_written_without_digit_grouping(tr: Translator) -> None:
    change = diff_lead(20104, None, lead(ID=20104), is_new=True)
    assert change is not None
    assert plain(render_text(tr, change, NAMES, None)).startswith("🆕 New lead #20104: Pipes")
