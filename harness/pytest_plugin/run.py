"""A recorded run's start: the run seed, the run directory, the reference site and the mail
sink started once in the controller and handed to the workers, the run recorder registered,
what run.json says of the settings, and the report header."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from harness import __version__, interrupts
from harness.errors import HarnessError
from harness.evidence import new_run_id
from harness.evidence.recorder import RunRecorder, file_pin, profile_name
from harness.policy import pin as policy_pin
from harness.probes.corpora import OVERBLOCKING_BANK, load_corpus, pin
from harness.resources import REPORTS_DIR, SCENARIOS_DIR
from harness.settings import Settings

from .config import (
    declared_profile,
    harness_settings,
    profile_secrets,
    run_corpora,
    run_policy,
    run_profile,
    selected_channels,
)
from .keys import CORPORA_KEY, MAIL_KEY, RECORDER, RESUME_KEY, RUN_DIR_KEY, SEED_KEY, SITE_KEY
from .options import register_markers


def pytest_configure(config: pytest.Config) -> None:
    register_markers(config)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.stash[SEED_KEY] = int(workerinput["harness_seed"])
        config.stash[RESUME_KEY] = bool(workerinput.get("harness_resume"))
        config.stash[SITE_KEY] = (workerinput.get("harness_site_url"),
                                  dict(workerinput.get("harness_site_env") or {}))
        if workerinput.get("harness_mail"):
            config.stash[MAIL_KEY] = dict(workerinput["harness_mail"])
        if workerinput.get("harness_run_dir"):
            config.stash[RUN_DIR_KEY] = Path(workerinput["harness_run_dir"])
        return
    settings = harness_settings(config)
    resume = bool(config.getoption("harness_resume"))
    config.stash[RESUME_KEY] = resume
    if resume and not config.getoption("harness_run_dir"):
        raise pytest.UsageError("--resume-run needs --run-dir (the run to finish)")
    seed = settings.seed
    config.stash[SEED_KEY] = seed if seed is not None else random.SystemRandom().randrange(10**9)
    if _wants_run(config) and not config.option.collectonly:
        interrupts.install()  # SIGTERM (CI cancel, timeout) ends the run as Ctrl-C does
        run_corpora(config)  # a bad corpus stops the run here
        run_dir = config.getoption("harness_run_dir")
        path = Path(run_dir) if run_dir else (settings.reports_dir or REPORTS_DIR) / new_run_id()
        config.stash[RUN_DIR_KEY] = path.resolve()
        _start_reference_site(config, settings)
        _start_mail_sink(config)
        recorder = RunRecorder(config, config.stash[RUN_DIR_KEY], _run_info(config),
                               resume=resume, secrets=profile_secrets(config))
        recorder.cleanup_profile = lambda: run_profile(config)
        config.pluginmanager.register(recorder, RECORDER)


def _start_reference_site(config: pytest.Config, settings: Settings) -> None:
    """Start the embedded reference site once, in the controller, when the run targets it
    with no URL; workers are handed its URL and admin token (never through os.environ)."""
    if not settings.starts_reference:
        config.stash[SITE_KEY] = (settings.base_url, {})
        return
    from harness import reference  # noqa: PLC0415 (only when the reference site is needed)

    try:
        site = reference.start(settings.reference_faults)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.add_cleanup(site.stop)
    config.stash[SITE_KEY] = (site.url, {reference.ADMIN_TOKEN_ENV: site.admin_token})


def _start_mail_sink(config: pytest.Config) -> None:
    """Start the run's SMTP sink once, in the controller, when the profile's `accounts.mail`
    asks for one; workers are handed its folder, host and port. A profile that does not load
    starts none (the `target_profile` fixture then says why)."""
    try:
        profile = declared_profile(config)
    except HarnessError:
        return
    smtp = (profile.accounts.mail or {}).get("smtp")
    if smtp is None:
        return
    from harness.targets.mail import MailSink  # noqa: PLC0415 (only for a run with a sink)

    try:
        sink = MailSink(str(smtp.get("host", "127.0.0.1")), int(smtp.get("port", 0))).start()
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.add_cleanup(sink.stop)
    config.stash[MAIL_KEY] = {"folder": str(sink.folder), "host": sink.host, "port": sink.port}


def pytest_configure_node(node: Any) -> None:
    """pytest-xdist hook: hand the run seed and run directory to each worker."""
    node.workerinput["harness_seed"] = node.config.stash[SEED_KEY]
    node.workerinput["harness_resume"] = node.config.stash.get(RESUME_KEY, False)
    run_dir = node.config.stash.get(RUN_DIR_KEY, None)
    node.workerinput["harness_run_dir"] = str(run_dir) if run_dir else ""
    url, environ = node.config.stash.get(SITE_KEY, (None, {}))
    node.workerinput["harness_site_url"] = url
    node.workerinput["harness_site_env"] = environ
    node.workerinput["harness_mail"] = node.config.stash.get(MAIL_KEY, None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"harness {__version__}, run seed: {config.stash[SEED_KEY]}"]
    if RUN_DIR_KEY in config.stash and not hasattr(config, "workerinput"):
        lines += [f"harness policy warning: {w}" for w in run_policy(config).warnings]
        settings = harness_settings(config)
        url, _ = config.stash.get(SITE_KEY, (None, {}))
        if settings.starts_reference and url:
            faults = ", ".join(settings.reference_faults) or "none"
            lines.append(f"harness target: the reference site at {url} (faults: {faults})")
        sink = config.stash.get(MAIL_KEY, None)
        if sink is not None:
            lines.append(f"harness mail sink: SMTP on {sink['host']}:{sink['port']}")
    if RUN_DIR_KEY in config.stash:
        lines.append(f"harness evidence: {config.stash[RUN_DIR_KEY]}")
    return lines


def _wants_run(config: pytest.Config) -> bool:
    """A run is recorded for conformance invocations: scenarios/ paths or harness options."""
    if config.getoption("harness_run_dir") or harness_settings(config).profile:
        return True
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == SCENARIOS_DIR or SCENARIOS_DIR in path.parents:
            return True
    return False


def narrowed(config: pytest.Config) -> str | None:
    """Path arguments inside the scenario tree but narrower than all of it: no plan can see
    past them. (A suite outside the tree is a suite of its own: its plan is what it collects.)"""
    narrow = []
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if ("::" in arg and (path == SCENARIOS_DIR or SCENARIOS_DIR in path.parents)) or (
                SCENARIOS_DIR in path.parents):
            narrow.append(arg)
    return " ".join(narrow) if narrow else None


def _run_info(config: pytest.Config) -> dict[str, Any]:
    """What run.json says of the run's settings, every file pinned by SHA-256."""
    from harness import waivers  # noqa: PLC0415

    settings = harness_settings(config)
    path = settings.profile_path
    policy = run_policy(config)
    waivers_file = config.getoption("harness_waivers")
    replay_of = config.getoption("harness_replay_of")
    operator = waivers.operator()
    try:
        pins = {"profile": file_pin(path), "policy": policy_pin(policy),
                "waivers_file": file_pin(waivers_file)}
        extra = waivers.load_waivers(Path(waivers_file)) if waivers_file else ()
        gate = waivers.gate_record((*policy.waivers, *extra), policy.measured, operator)
        linked: dict[str, Any] = {}
        if replay_of:
            from harness.replay import replay_link  # noqa: PLC0415

            linked["replay_of"] = replay_link(Path(replay_of))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    return {
        "seed": config.stash[SEED_KEY],
        "target": {"name": profile_name(path), "base_url": settings.base_url},
        **pins,
        "channel": settings.channel,
        "channels": list(selected_channels(config)),
        "controls": list(settings.controls),
        "reference_faults": list(settings.reference_faults),
        "settings": dict(settings.sources),
        "corpora": [pin(corpus) for corpus in config.stash.get(CORPORA_KEY, [])],
        "overblocking_bank": pin(load_corpus(OVERBLOCKING_BANK)),
        "harness": __version__,
        **({"mail_sink": {key: config.stash[MAIL_KEY][key] for key in ("host", "port")}}
           if MAIL_KEY in config.stash else {}),
        "args": list(config.invocation_params.args),
        "operator": operator,
        "gate": gate,
        "shard": config.getoption("harness_shard"),
        **linked,
    }
