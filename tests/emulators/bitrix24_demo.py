"""Demo data and the command-line runner of the Bitrix24 emulator."""

from __future__ import annotations

import argparse
import asyncio

from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.bitrix24_events import LEAD_EVENTS, LEAD_USERFIELD_EVENTS


def seed_demo(emu: Bitrix24Emulator, leads: int = 50) -> None:
    """Demo data: two more reps with phones, one custom stage and `leads` leads."""
    emu.add_user(
        "Sergey",
        "Volkov",
        email="sergey.volkov@example.test",
        personal_mobile="+79165550101",
        WORK_POSITION="Sales representative",
    )
    emu.add_user(
        "Maria",
        "Ivanova",
        email="maria.ivanova@example.test",
        personal_mobile="+79165550102",
        WORK_POSITION="Sales representative",
    )
    emu.add_lead_stage("UC_DEMO01", "Meeting booked", 25)
    reps = [2, 3, 5, 6]
    stages = emu.lead_stage_ids()
    sources = ["CALL", "WEB", "EMAIL", "RECOMMENDATION", "TRADE_SHOW"]
    first_names = ["Alexey", "Dmitry", "Elena", "Natalia", "Igor", "Svetlana", "Oleg", "Irina"]
    last_names = ["Sokolov", "Morozov", "Kuznetsova", "Popova", "Lebedev", "Novikova"]
    for index in range(leads):
        emu.add_lead(
            {
                "TITLE": f"Demo request #{index + 1}",
                "NAME": first_names[index % len(first_names)],
                "LAST_NAME": last_names[index % len(last_names)],
                "STATUS_ID": stages[index % len(stages)],
                "SOURCE_ID": sources[index % len(sources)],
                "ASSIGNED_BY_ID": reps[index % len(reps)],
                "OPPORTUNITY": 5000 + 750 * index,
                "PHONE": [{"VALUE": f"+7916{7000000 + index:07d}", "VALUE_TYPE": "MOBILE"}],
                "COMMENTS": "Demo lead",
            },
            user_id=1,
            fire=False,
        )


def demo_sign_in_lines(emu: Bitrix24Emulator) -> list[str]:
    """One line per portal user: id, name, phones to sign in with, and whether they may."""
    lines = []
    for user_id, user in sorted(emu.users.items()):
        phones = [
            user[key] for key in ("PERSONAL_MOBILE", "WORK_PHONE", "PERSONAL_PHONE") if user[key]
        ]
        name = f"{user['NAME']} {user['LAST_NAME']}".strip()
        role = "admin" if user_id in emu.admin_ids else (user.get("WORK_POSITION") or "user")
        state = "" if user["ACTIVE"] else "  (inactive: cannot sign in)"
        lines.append(f"  user {user_id}: {name}, {role}: {', '.join(phones) or 'no phone'}{state}")
    return lines


async def run_cli(args: argparse.Namespace) -> None:
    """Start an emulator as the CLI options say and serve until cancelled."""
    emu = Bitrix24Emulator(rate_limit=args.rate_limit)
    if args.demo:
        seed_demo(emu)
    await emu.start(port=args.port)
    print(f"Bitrix24 emulator on {emu.base_url}")
    print(f"Webhook URL: {emu.webhook_url}")
    print(f"OAuth endpoint: {emu.oauth_endpoint}  token URL: {emu.token_url}")
    if args.demo:
        # Fictional demo data: these are the phones to share with "Share my phone".
        print("Demo users (sign in by sharing one of these phones):")
        for line in demo_sign_in_lines(emu):
            print(line)
    for url in args.event_handler or []:
        token = emu.add_outgoing_webhook(url, LEAD_EVENTS + LEAD_USERFIELD_EVENTS[:3])
        print(f"Outgoing webhook -> {url}  application_token: {token}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()
