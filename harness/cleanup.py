"""Deleting what a run created on the target, as the profile's `cleanup` steps say.

Each channel keeps a `Ledger` of what it created: the accounts it registered and every item
whose id a step bound to a variable the profile names under `cleanup.<kind>.ids`. Tests hand
those entries to the run's recorder (a `created` line each, tagged with the test); at the end
of the run the recorder deletes them (`clean`) and records a `cleanup` line per item, ok or
failed with the reason. `harness cleanup RUN` retries, from the evidence and the profile alone,
every item without an ok line, so a staging site stays usable however many runs it serves.

The steps are rendered with the item's `{id}` (for an account, also `{account_name}`): the
API's (`api.cleanup`) as `admin`; a pages-only site's (`browser.cleanup`) in a browser as the
roles the profile provisions (a moderator), signed in for the purpose. The personas' sessions
end with the run and are never kept.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import interrupts

CREATED = "harness.created"  # the user property a test hands its created items in
ACCOUNT = "account"
# Deletion order: what hangs off an item goes before it; accounts last (a site may delete an
# account's content with it).
KINDS = ("report", "group_message", "comment", "post", "group", ACCOUNT)
OK = "ok"
FAILED = "failed"
API_CONCURRENCY = 8  # deletions through the API at once
BATCH_LINES = 64  # cleanup lines made durable together


CHANNELS = ("api", "browser")  # whose cleanup steps are used, in this order


def cleanup_kinds(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per kind, how the profile deletes it: {ids, steps, channel}; the API's steps where
    it has them (an item made through the pages too), else the pages'."""
    kinds: dict[str, dict[str, Any]] = {}
    for channel in CHANNELS:
        for kind, how in (data.get(channel) or {}).get("cleanup", {}).items():
            kinds.setdefault(kind, {**how, "channel": channel})
    return kinds


@dataclass(frozen=True)
class Created:
    """One thing the harness made on the target: its kind, its id and the channel that made it."""

    kind: str
    id: str
    channel: str
    account_name: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.channel, self.kind, self.id)

    def variables(self) -> dict[str, str]:
        """What the cleanup steps are rendered with."""
        found = {"id": self.id}
        if self.account_name is not None:
            found["account_name"] = self.account_name
        return found

    def evidence(self) -> dict[str, Any]:
        return {"entry_type": "created", "kind": self.kind, "id": self.id,
                "channel": self.channel,
                **({"account_name": self.account_name} if self.account_name else {})}

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Created:
        return cls(str(entry["kind"]), str(entry["id"]), str(entry["channel"]),
                   entry.get("account_name"))


class Ledger:
    """What one channel created since last asked, for the kinds its profile can delete.

    Shared by the threads of a channel (rate cases run side by side)."""

    def __init__(self, spec: Mapping[str, Any], channel: str) -> None:
        self.channel = channel
        self._kinds_of: dict[str, list[str]] = {}
        for kind, how in spec.items():
            for name in how.get("ids", ()):
                self._kinds_of.setdefault(name, []).append(kind)
        self._accounts = ACCOUNT in spec
        self._lock = threading.Lock()
        self._created: list[Created] = []

    def account(self, variables: Mapping[str, Any]) -> None:
        """A registered account (its `id` and `account_name`), when the profile can delete one."""
        if self._accounts and variables.get("id") not in (None, ""):
            self._add(Created(ACCOUNT, str(variables["id"]), self.channel,
                              str(variables.get("account_name") or "") or None))

    def bound(self, names: Iterable[str], variables: Mapping[str, Any]) -> None:
        """A step bound `names`: each one the profile lists under a kind's `ids` is an item made."""
        for name in names:
            value = variables.get(name)
            if value in (None, ""):
                continue
            for kind in self._kinds_of.get(name, ()):
                self._add(Created(kind, str(value), self.channel))

    def take(self) -> list[dict[str, Any]]:
        """The `created` lines since last asked, oldest first."""
        with self._lock:
            taken, self._created = self._created, []
        return [item.evidence() for item in taken]

    def _add(self, item: Created) -> None:
        with self._lock:
            self._created.append(item)


def pending(entries: Iterable[Mapping[str, Any]]) -> list[Created]:
    """The created items of a run's evidence without an ok `cleanup` line, in deletion order."""
    created: dict[tuple[str, str, str], Created] = {}
    done: set[tuple[str, str, str]] = set()
    for entry in entries:
        if entry.get("entry_type") == "created":
            item = Created.from_entry(entry)
            created.setdefault(item.key, item)
        elif entry.get("entry_type") == "cleanup" and entry.get("outcome") == OK:
            done.add((str(entry["channel"]), str(entry["kind"]), str(entry["id"])))
    left = [item for key, item in created.items() if key not in done]
    return sorted(left, key=lambda item: KINDS.index(item.kind) if item.kind in KINDS
                  else len(KINDS))


def clean(items: Iterable[Created], profile: Any, api: Any,
          pages: tuple[Any, Mapping[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """Delete each item with its kind's cleanup steps: through `api` (an `ApiTarget`) as
    admin, or through `pages` (a `BrowserTarget` and its signed-in actors); one `cleanup` line
    per item, ok or failed with the reason. One item's failure is recorded, not raised; the
    next is tried."""
    from harness.observe.flow import outcome_of  # noqa: PLC0415 (flow imports the targets)
    from harness.targets.templates import MissingVariable  # noqa: PLC0415

    kinds = cleanup_kinds(profile.data)
    for item in items:
        line: dict[str, Any] = {"entry_type": "cleanup", "kind": item.kind, "id": item.id,
                                "channel": item.channel}
        how = kinds.get(item.kind)
        if how is None:
            yield {**line, "outcome": FAILED, "reason": f"the profile has no cleanup steps "
                   f"for a {item.kind} (api.cleanup or browser.cleanup)"}
            continue
        steps = list(how["steps"])
        if how["channel"] == "api":
            runner, actors = api, {}
        elif pages is None:
            yield {**line, "outcome": FAILED,
                   "reason": "browser.cleanup steps need the browser, which could not start"}
            continue
        else:
            runner, actors = pages
            steps = [{"as": "moderator", **step} for step in steps]
        try:
            done = runner.run_steps(steps, item.variables(), actors, {},
                                    action=f"cleanup {item.kind}")
        except MissingVariable as exc:
            yield {**line, "outcome": FAILED,
                   "reason": f"a step needs {{{exc.name}}}, which a cleanup does not have "
                   "(only {id} and, for an account, {account_name})"}
            continue
        except KeyError as exc:
            yield {**line, "outcome": FAILED, "reason": f"the steps act as {exc}, a role "
                   "the cleanup has no session of (admin, or a provisioned role)"}
            continue
        results = [result.evidence() for result in done]
        if len(done) == len(steps) and done[-1].ok:
            yield {**line, "outcome": OK, "steps": results}
        else:
            yield {**line, "outcome": FAILED, "reason": outcome_of(done[-1] if done else None),
                   "steps": results}


def summary(lines: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """How many cleanup lines are ok, and how many failed."""
    outcomes = [line.get("outcome") for line in lines]
    return outcomes.count(OK), outcomes.count(FAILED)


def run_cleanup(store: Any, items: list[Created], profile: Any, *,
                browser_path: str | None = None) -> tuple[int, int]:
    """Delete `items` through fresh targets of `profile` (a browser only when some kind is
    deleted through the pages), appending the `cleanup` lines to `store` in batches as they
    come (a run stopped halfway loses at most a batch, whose items `harness cleanup` tries
    again); (ok, failed) counts."""
    from harness.targets.api import ApiTarget  # noqa: PLC0415 (api imports this module)

    kinds = cleanup_kinds(profile.data)
    lines = []
    with ExitStack() as stack:
        api = stack.enter_context(ApiTarget(profile))
        pages = None
        if any(kinds.get(item.kind, {}).get("channel") == "browser" for item in items):
            pages = stack.enter_context(_signed_in_pages(profile, api, store, browser_path))
        for batch in _cleaned(items, kinds, profile, api, pages):
            store.append_many(batch)
            lines.extend(batch)
    return summary(lines)


def _cleaned(items: list[Created], kinds: Mapping[str, Mapping[str, Any]], profile: Any,
             api: Any, pages: tuple[Any, Mapping[str, Any]] | None,
             ) -> Iterator[list[dict[str, Any]]]:
    """The cleanup lines of `items` in batches, kind after kind in deletion order: a kind
    deleted through the API `API_CONCURRENCY` items at once, a batch as each `BATCH_LINES`
    are done; one through the pages item after item, a line at a time. A run being stopped
    starts no deletion more and still records those under way: what is left waits for
    `harness cleanup`."""
    for kind, group in itertools.groupby(items, key=lambda item: item.kind):
        if interrupts.received() is not None:
            return
        todo = list(group)
        if kinds.get(kind, {}).get("channel") != "api" or len(todo) == 1:
            for line in clean(todo, profile, api, pages):
                yield [line]
                if interrupts.received() is not None:
                    return
            continue
        with ThreadPoolExecutor(API_CONCURRENCY, thread_name_prefix="harness-cleanup") as pool:
            futures = [pool.submit(lambda item: next(clean([item], profile, api, pages)), item)
                       for item in todo]
            batch: list[dict[str, Any]] = []
            for future in as_completed(futures):
                if future.cancelled():
                    continue
                batch.append(future.result())
                if len(batch) == BATCH_LINES:
                    yield batch
                    batch = []
                if interrupts.received() is not None:
                    for left in futures:
                        left.cancel()
            if batch:
                yield batch


@contextmanager
def _signed_in_pages(profile: Any, api: Any, store: Any,
                     browser_path: str | None) -> Iterator[tuple[Any, dict[str, Any]] | None]:
    """A browser target with every provisioned role signed in through the profile's login
    steps (screenshots of failed steps kept as the run's artifacts); None when no browser
    can start (the browser's items are then recorded as failed, for a later retry)."""
    from harness.errors import HarnessError  # noqa: PLC0415
    from harness.observe.flow import device_id  # noqa: PLC0415
    from harness.targets.api import Actor  # noqa: PLC0415
    from harness.targets.browser import (  # noqa: PLC0415
        BrowserTarget,
        find_browser,
        launch_options,
    )

    try:
        options = launch_options(find_browser(browser_path))
    except HarnessError:
        yield None
        return
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**options)
        target = BrowserTarget(profile, browser, api)
        target.begin_case(lambda name, data, text: store.write_artifact(
            f"cleanup/{name}", data, text=text), tracing="off", screenshots="on", har="off")
        actors: dict[str, Any] = {}
        try:
            for role, account in profile.accounts.provisioned.items():
                actor = Actor(role, device_id(role, 0))
                if target.sign_in(actor, account).ok:
                    actors[role] = actor
            yield target, actors
        finally:
            target.end_case(False, lambda data: data)
            target.close()
            browser.close()


def retry(run_dir: Path, *, profile_path: Path | None = None, base_url: str | None = None,
          browser_path: str | None = None) -> tuple[int, int]:
    """`harness cleanup RUN`: delete what a sealed run created and did not delete (no ok
    `cleanup` line), from its evidence and its profile (run.json's, or `profile_path`, e.g.
    one whose cleanup steps were fixed), appending the new `cleanup` lines to the same chain.
    Returns the (ok, failed) counts of this attempt."""
    from harness.evidence import Redactor, RunStore, read_entries, read_run_info  # noqa: PLC0415
    from harness.targets.profile import load_profile  # noqa: PLC0415

    items = pending(read_entries(run_dir))
    if not items:
        return 0, 0
    info = read_run_info(run_dir)
    profile = load_profile(profile_path or info["profile"]["path"],
                           base_url=base_url or info["target"]["base_url"])
    store = RunStore.open(run_dir, redactor=Redactor(profile.secrets))
    try:
        return run_cleanup(store, items, profile, browser_path=browser_path)
    finally:
        store.finalize()
