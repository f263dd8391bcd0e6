"""The container image installs and starts the bot the way `make run` does."""

from __future__ import annotations

import re

from tests.packaging.dockerfile import ROOT, dockerfile, env_of, makefile_variable


def _pip_runs() -> list[str]:
    return [i.args for i in dockerfile() if i.keyword == "RUN" and "pip install" in i.args]


def test_image_installs_with_exactly_the_makefile_commands() -> None:
    runtime = makefile_variable("INSTALL_RUNTIME")
    project = makefile_variable("INSTALL_PROJECT")
    assert runtime == "pip install --require-hashes -r requirements.lock"
    assert _pip_runs() == [f"python -m {runtime}", f"python -m {project}"]


def test_make_run_installs_the_runtime_lock_and_make_test_the_dev_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    run_stamp = re.search(r"^\$\(RUN_STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    dev_stamp = re.search(r"^\$\(DEV_STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert run_stamp
    assert dev_stamp
    assert "requirements.lock" in run_stamp.group(1).split()
    assert "$(INSTALL_RUNTIME)" in run_stamp.group(2)
    assert "requirements-dev.lock" in dev_stamp.group(1).split()
    assert "$(INSTALL_DEV)" in dev_stamp.group(2)
    assert re.search(r"^run: \$\(RUN_STAMP\)$", makefile, re.MULTILINE)
    for target in ("lint", "typecheck", "pytest"):
        assert re.search(rf"^{target}: \$\(DEV_STAMP\)$", makefile, re.MULTILINE)


def test_lock_files_pin_every_package_with_hashes() -> None:
    for name in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / name).read_text()
        pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+ \\$", text, re.MULTILINE)
        assert pins, name
        blocks = re.split(r"^(?=[A-Za-z0-9_.-]+==)", text, flags=re.MULTILINE)[1:]
        assert all("--hash=sha256:" in block for block in blocks), name
    runtime = (ROOT / "requirements.lock").read_text()
    for dev_only in ("pytest", "ruff", "mypy", "hypothesis", "fast-bitrix24"):
        assert f"\n{dev_only}==" not in runtime


def test_image_runs_as_a_non_root_user_with_a_data_volume_and_a_healthcheck() -> None:
    instructions = dockerfile()
    assert instructions[0].keyword == "FROM"
    assert instructions[0].args.startswith("python:3.11-slim")
    users = [i.args for i in instructions if i.keyword == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    env = env_of(instructions)
    volumes = [i.args for i in instructions if i.keyword == "VOLUME"]
    assert any(env["STORAGE__PATH"].startswith(path) for v in volumes for path in eval_list(v))
    assert env["WEB__HOST"] == "0.0.0.0"  # noqa: S104 - a container must listen outside
    (healthcheck,) = [i for i in instructions if i.keyword == "HEALTHCHECK"]
    command = healthcheck.exec_form()
    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2]
    assert f":{env['WEB__PORT']}/healthz" in command[2]
    cmd = [i for i in instructions if i.keyword == "CMD"][-1].exec_form()
    assert cmd == ["python", "-m", "bot"]


def eval_list(text: str) -> list[str]:
    """A VOLUME argument in JSON or plain form."""
    text = text.strip()
    return [p.strip('"') for p in text.strip("[]").split(",")] if text.startswith("[") else [text]
