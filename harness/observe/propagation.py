"""Propagation (A5.4-PROPAGATION): what the target takes down is gone everywhere it showed.

The profile's `api.moderation` section says how to plant an item through the moderator
interface (skipping the filter), how its author edits it, how a moderator removes it, and every
place each kind of item shows. A pages-only site says the same in `browser.moderation`: its
author plants the item through the pages (`plant`, so only content the filter lets through:
the case's benign text) and a signed-in moderator takes it down there (`remove`). The kinds are
posts, groups, comments and group messages. Two kinds of case:

- removal: an item (and, for a post, a forward and a forward of that forward, unless the site
  declares forwards absent) is planted, seen in its places, removed; until the grace window
  ends no place may show it.
- edit: a clean item (and its forwards) is planted and seen, then its author edits it to carry
  the term; the edit must be refused, or the new text shown nowhere, forwards included.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.controls import A5_4_PROPAGATION
from harness.observe.flow import (
    GONE_STATUS,
    NOT_MODERATION,
    POLL_SECONDS,
    CaseResult,
    CaseRun,
    Session,
    outcome_of,
    submission_index,
)
from harness.observe.judge import Sighting, disposition_of
from harness.policy import Policy
from harness.probes.cases import Case
from harness.targets.api import Exchange
from harness.targets.profile import Profile
from harness.targets.templates import MissingVariable, render
from harness.verdicts import Verdict

FORWARD = "forward"
# The surface whose filter a planted kind skips (the case is built for it).
KIND_SURFACES = {"post": "post", "group": "group_name", "comment": "comment",
                 "group_message": "group_message"}

Places = dict[str, list[Sighting]]  # item label -> what each observer saw in its places


@dataclass
class Item:
    """One planted item: its kind, a label for reports, and its template variables."""

    kind: str
    label: str
    variables: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str | None:
        return self.variables.get("item_id")

    def evidence(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "id": self.id,
                "source_id": self.variables.get("source_id")}


# The propagation cases: each kind removed, and edited (a group's edit is its name or intro,
# the surfaces' own edit cases).
CASES = tuple((change, kind) for change in ("removal", "edit")
              for kind in ("post", "group", "comment", "group_message")
              if (change, kind) != ("edit", "group"))


def case_id(change: str, kind: str) -> str:
    """The id of a propagation case in evidence."""
    return f"propagation/{change}/{kind}"


def channel_section(profile: Profile, channel: str) -> Mapping[str, Any] | None:
    """The moderation section of a channel: where items show, and how their author edits."""
    section = profile.api if channel == "api" else profile.data.get(channel, {})
    return section.get("moderation")


def plant_steps(profile: Profile, channel: str, kind: str) -> tuple[str, list[Any]] | None:
    """How a kind is planted: ("api", steps) through the moderator interface, else
    ("pages", steps) by its author on a browser channel; None when the profile names no way.
    A step list's last step binds {item_id} (earlier ones may plant its parent)."""
    admin = profile.api.get("moderation") or {}
    if kind in admin.get("plant", {}):
        planted = admin["plant"][kind]
        return "api", planted if isinstance(planted, list) else [planted]
    pages = profile.data.get("browser", {}).get("moderation") or {}
    if channel == "browser" and kind in pages.get("plant", {}):
        return "pages", pages["plant"][kind]
    return None


def remove_steps(profile: Profile, channel: str, kind: str) -> tuple[str, list[Any]] | None:
    """How a moderator takes a kind down: ("api", [request]) through the moderator interface,
    else ("pages", steps) as the signed-in moderator on a browser channel; None when none."""
    admin = profile.api.get("moderation") or {}
    if "remove" in admin:
        return "api", [admin["remove"]]
    pages = profile.data.get("browser", {}).get("moderation") or {}
    if channel == "browser" and kind in pages.get("remove", {}):
        return "pages", pages["remove"][kind]
    return None


def has_forwards(profile: Profile, channel: str) -> bool:
    """Whether posts are forwarded on this site: unless its `forward` surface is absent."""
    section = profile.api if channel == "api" else profile.data.get(channel, {})
    return "absent" not in (section.get("surfaces", {}).get("forward") or {})


def not_assessable(profile: Profile, channel: str, change: str,
                   kind: str) -> tuple[Verdict, str] | None:
    """Why a propagation case cannot run on this profile, or None when it can: not applicable
    only where the profile declares the moderator interface, or the kind's edit, `absent`;
    inconclusive where the profile leaves out what the case needs."""
    admin = profile.api.get("moderation")
    if admin is not None and "absent" in admin:
        return Verdict.NOT_APPLICABLE, admin["absent"]
    surface = (profile.api if channel == "api" else profile.data.get(channel, {})).get(
        "surfaces", {}).get(KIND_SURFACES[kind])
    if surface is not None and "absent" in surface:
        return Verdict.NOT_APPLICABLE, f"the site has no {KIND_SURFACES[kind]}: " \
            f"{surface['absent']}"
    section = channel_section(profile, channel)
    edit = (section or {}).get("edit", {}).get(kind)
    where = "api.moderation" if channel == "api" else f"api.moderation nor {channel}.moderation"
    if section is None:
        missing = f"the profile has no {channel}.moderation section: it does not say where " \
            "items show"
    elif plant_steps(profile, channel, kind) is None:
        missing = f"neither {where} plants a {kind}"
    elif kind == "post" and has_forwards(profile, channel) and (
            plant_steps(profile, channel, FORWARD) is None or FORWARD not in section["appears"]):
        missing = f"the profile does not plant a forward or say where one shows ({where}); " \
            "declare the forward surface absent if the site has none"
    elif kind not in section["appears"]:
        missing = f"the profile's {channel}.moderation section does not say where a {kind} shows"
    elif change == "edit" and isinstance(edit, Mapping):
        return Verdict.NOT_APPLICABLE, f"the {kind} edit is absent: {edit['absent']}"
    elif change == "edit" and edit is None:
        missing = f"the profile's {channel}.moderation section names no way to edit a {kind}"
    elif change == "removal" and remove_steps(profile, channel, kind) is None:
        missing = f"neither {where} names a way for a moderator to remove a {kind}"
    elif surface is None:  # a case is built for the surface whose filter a plant skips
        missing = f"the profile describes no {channel} steps for {KIND_SURFACES[kind]}"
    else:
        return None
    return Verdict.INCONCLUSIVE, f"not assessed: {missing}"


def run_propagation(session: Session, case: Case, policy: Policy, seed: int, *, change: str,
                    kind: str) -> CaseResult:
    """Plant, observe, remove or edit, and observe again; one A5.4-PROPAGATION observation."""
    return PropagationRun(session, case, policy, seed, change=change, kind=kind).run()


class PropagationRun(CaseRun):
    """One propagation case: a planted item and its forwards, removed or edited."""

    def __init__(self, session: Session, case: Case, policy: Policy, seed: int, *,
                 change: str, kind: str) -> None:
        super().__init__(session, case, policy, seed)
        self.surface_control = self.control
        self.control = A5_4_PROPAGATION
        self.kind = kind
        self.change = change
        self.case_id = case_id(change, kind)
        profile, channel = self.target.profile, self.target.channel
        self.section = channel_section(profile, channel)
        moderation = profile.api.get("moderation") or self.section or {}
        self.gone_status = tuple(moderation.get("gone_status", GONE_STATUS))
        self.forwards = kind == "post" and has_forwards(profile, channel)

    def run(self) -> CaseResult:
        excuse = not_assessable(self.target.profile, self.target.channel, self.change, self.kind)
        if excuse is not None:
            self.observe(*excuse)
            return self.result
        removal = self.change == "removal"
        items = self.plant_all(self.case.text if removal else self.case.original)
        if items is not None:
            (self.removal if removal else self.edit)(items)
        return self.result

    # --- setting up ---------------------------------------------------------------------------

    def plant_all(self, text: str) -> list[Item] | None:
        """The author's item and, for a post, two levels of forwards by the viewer."""
        if not self.register_author():
            return None
        root = self.plant(Item(self.kind, self.kind, {"text": text}))
        if root is None:
            return None
        items = [root]
        if self.forwards:
            for label in ("forward", "forward of forward"):
                forward = self.plant(Item(FORWARD, label, {
                    "text": self.variables["filler"], "source_id": items[-1].id}))
                if forward is None:
                    return None
                items.append(forward)
        return items

    def plant(self, item: Item) -> Item | None:
        """Plant one item through the moderator interface (or its author's pages); None (and
        an observation) if not."""
        scope = {**self.variables, **item.variables,
                 "kind": self.target.profile.item_type(item.kind, self.target.channel)}
        found = plant_steps(self.target.profile, self.target.channel, item.kind)
        assert found is not None  # not_assessable said so
        via, planned = found
        runner = self.target.admin if via == "api" else self.target
        steps = runner.run_steps(planned, scope, self.actors, {})
        self.result.exchanges.extend(steps)
        if len(steps) < len(planned) or not steps[-1].ok or scope.get("item_id") is None:
            self.observe(Verdict.INCONCLUSIVE,
                         f"could not plant the {item.label}: {outcome_of(steps[-1])}")
            return None
        item.variables = scope
        return item

    # --- reading ------------------------------------------------------------------------------

    def read_places(self, items: list[Item]) -> Places:
        """Every place of every item, as each observer; a gone answer shows nothing.

        A place several items share (a listing) is read once, for the first item it shows.
        """
        places: Places = {}
        read: set[str] = set()
        for item in items:
            places[item.label] = []
            for spec in self.section["appears"][item.kind]:
                try:
                    where = repr(render({k: v for k, v in spec.items() if k != "as"},
                                        item.variables))
                except MissingVariable:
                    where = None  # read_spec skips it
                if where is not None:
                    if where in read:
                        continue
                    read.add(where)
                places[item.label] += [gone(sighting, self.gone_status) for sighting in
                                       self.read_spec(spec, item.variables,
                                                      f"{item.label} #{item.id}: ")]
        return places

    def poll(self, items: list[Item], done: Callable[[Places], bool], seconds: float) -> Places:
        """Read every place until `done` or the deadline; the last reading."""
        deadline = time.monotonic() + seconds
        current = self.read_places(items)
        while not done(current) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            current = self.read_places(items)
        # Page reads keep their evidence as artifacts (screenshots, DOM); HTTP reads go here.
        self.result.exchanges.extend(s.exchange for s in _all(current)
                                     if isinstance(s.exchange, Exchange))
        return current

    def shown(self, items: list[Item], shows: Callable[[Sighting], bool]) -> Places:
        """The places before the change, read until the item and its direct forwards show
        somewhere (a forward of a forward may show only the forward)."""
        root = items[0]
        awaited = [i.label for i in items if i is root or i.variables.get("source_id") == root.id]
        time.sleep(self.target.settle_seconds)
        return self.poll(items, lambda places: all(any(shows(s) for s in places[label])
                                                   for label in awaited),
                         max(self.target.settle_seconds, POLL_SECONDS * 5))

    # --- the two changes ----------------------------------------------------------------------

    def remove(self, root: Item) -> tuple[list[Any], str | None]:
        """A moderator takes the item down: through the moderator interface, or as the signed-in
        moderator through the pages. The steps taken, and why they failed (None: done)."""
        found = remove_steps(self.target.profile, self.target.channel, root.kind)
        assert found is not None  # not_assessable said so
        via, planned = found
        if via == "api":
            done = [self.target.admin.request(planned[0], root.variables, self.actors)]
            self.result.exchanges.extend(done)
            return done, None if done[0].ok else \
                f"through the moderator interface: {outcome_of(done[0])}"
        if "moderator" not in self.actors:
            why = self.session.not_signed_in.get("moderator", "no moderator is provisioned "
                                                 "(accounts.provisioned.moderator)")
            return [], f"through the pages: no signed-in moderator ({why})"
        done = self.target.run_steps([{"as": "moderator", **step} for step in planned],
                                     dict(root.variables), self.actors, {})
        self.result.exchanges.extend(done)
        if len(done) == len(planned) and done[-1].ok:
            return done, None
        return done, f"through the pages: {outcome_of(done[-1] if done else None)}"

    def removal(self, items: list[Item]) -> None:
        root = items[0]
        before = self.shown(items, lambda s: bool(s.visible))
        steps, failed = self.remove(root)
        details = {"items": [i.evidence() for i in items],
                   "removal": [step.evidence() for step in steps], "before": _evidence(before)}
        if failed is not None:
            self.observe(Verdict.INCONCLUSIVE, f"could not remove the {root.label} {failed}",
                         **details)
            return
        after = self.poll(items, lambda places: not any(s.visible is not False
                                                        for s in _all(places)),
                          self.policy.grace_seconds)
        verdict, reason = judge_removal(root.label, before, after)
        self.observe(verdict, reason, "removed" if verdict is Verdict.PASS else None,
                     after=_evidence(after), **details)

    def edit(self, items: list[Item]) -> None:
        root = items[0]
        before = self.shown(items, lambda s: bool(s.visible or s.tag_only))
        details: dict[str, Any] = {"items": [i.evidence() for i in items],
                                   "before": _evidence(before)}
        if not any(s.visible or s.tag_only for s in before[root.label]):
            self.observe(Verdict.INCONCLUSIVE, f"the clean {root.label} never showed before the "
                         f"edit: {_notes(before[root.label])}", **details)
            return
        planned = self.section["edit"][self.kind]
        assert isinstance(planned, list)  # not_assessable said so
        steps = self.target.run_steps(planned, root.variables, self.actors, {})
        self.result.exchanges.extend(steps)
        details["edit"] = [step.evidence() for step in steps]
        index = submission_index(planned)
        refusal = self.target.refusal(steps[index], self.case.surface) \
            if len(steps) > index else None
        outcome = refusal.outcome if refusal is not None else "error"
        if outcome == "invalid":
            assert refusal is not None
            self.observe(Verdict.INCONCLUSIVE, f"{NOT_MODERATION}: {refusal.reason}",
                         **details)
            return
        if outcome == "error":
            self.observe(Verdict.INCONCLUSIVE, "the edit did not complete: "
                         + outcome_of(steps[-1] if steps else None), **details)
            return
        accepted = outcome == "accepted"
        if accepted:
            time.sleep(self.target.settle_seconds)
        first = self.poll(items, lambda _places: True, 0)
        final = first if not accepted else self.poll(
            items, lambda places: not any(s.visible for s in _all(places)),
            self.policy.grace_seconds)
        # The item's own places judge its surface's edit check; all places, forwards included,
        # judge propagation, which can be seen only when the item itself does not show the edit.
        itself = {root.label: final[root.label]}
        verdict, reason, disposition = judge_edit(
            accepted, {root.label: first[root.label]}, itself, self.policy)
        self.observe(verdict, reason, disposition, control=self.surface_control,
                     sightings=[s.evidence() for s in itself[root.label]])
        if disposition == "published":
            return
        verdict, reason, disposition = judge_edit(accepted, first, final, self.policy)
        self.observe(verdict, reason, disposition, after=_evidence(final), **details)


def gone(sighting: Sighting, statuses: tuple[int, ...]) -> Sighting:
    """A read the target answered with a gone status shows nothing (not an unreadable place)."""
    status = getattr(sighting.exchange, "status", None)
    if sighting.visible is None and status in statuses:
        return dataclasses.replace(sighting, visible=False, note=f"gone (HTTP {status})")
    return sighting


def judge_removal(root: str, before: Places, after: Places) -> tuple[Verdict, str]:
    """Verdict and reason of a removal from the places read before it and after it."""
    if not any(s.visible for s in before.get(root, ())):
        return (Verdict.INCONCLUSIVE, f"the {root} never showed before its removal, so its "
                f"propagation could not be observed: {_notes(before.get(root, []))}")
    seen = [s for s in _all(after) if s.visible]
    if seen:
        return Verdict.FAIL, f"removed content still shown: {_where(seen)}"
    unread = [s for s in _all(after) if s.visible is None]
    if unread:
        return Verdict.INCONCLUSIVE, f"could not read after the removal: {_notes(unread)}"
    places = sorted({s.request for s in _all(before) if s.visible})
    return Verdict.PASS, f"gone from the {len(places)} place(s) that showed it: " \
        + "; ".join(places)


def judge_edit(accepted: bool, first: Places, final: Places,
               policy: Policy) -> tuple[Verdict, str, str | None]:
    """Verdict, reason and disposition of an edit that adds a term to accepted content."""
    seen = [s for s in _all(final) if s.visible]
    if seen:
        return Verdict.FAIL, f"the edited text is shown: {_where(seen)}", "published"
    unread = [s for s in _all(final) if s.visible is None]
    if unread:
        return Verdict.INCONCLUSIVE, f"could not read after the edit: {_notes(unread)}", None
    disposition = disposition_of(accepted, _all(first), _all(final))
    if disposition not in policy.acceptable_dispositions:
        return (Verdict.FAIL, f"edit disposition {disposition} is not acceptable by policy",
                disposition)
    return (Verdict.PASS, f"edit {disposition}; the term shows nowhere, not in the places of "
            f"{', '.join(final)}", disposition)


def _all(places: Places) -> list[Sighting]:
    return [s for seen in places.values() for s in seen]


def _where(sightings: list[Sighting]) -> str:
    return "; ".join(f"{s.role} at {s.request} ({getattr(s.exchange, 'url', None)})"
                     for s in sightings)


def _notes(sightings: list[Sighting]) -> str:
    return "; ".join(f"{s.role} at {s.request}: {s.note or 'not shown'}"
                     for s in sightings) or "no read"


def _evidence(places: Places) -> dict[str, list[dict[str, Any]]]:
    return {label: [s.evidence() for s in seen] for label, seen in places.items()}
