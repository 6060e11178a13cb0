"""What a channel is: the `Target` protocol the API and browser channels implement, and the
shape of what their steps and reads return (`StepResult`).

Flows and scenarios speak to a target only through this protocol, so a new channel (or a
Python adapter for a site the profile's steps cannot drive) is a class with these members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from harness.targets.api import Actor, ApiTarget
    from harness.targets.profile import Profile
    from harness.targets.refusals import Refusal


@runtime_checkable
class StepResult(Protocol):
    """One request or page step, or one read: where it went and how it ended."""

    url: str
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool: ...


@runtime_checkable
class Target(Protocol):
    """A service driven through one channel, with the API target as its admin interface."""

    channel: str
    profile: Profile
    settle_seconds: float
    unknowable_log_fields: frozenset[str]  # 5(3) fields this channel cannot know of itself
    admin: ApiTarget  # the moderator's and auditor's interface, whatever the channel

    def surface_spec(self, name: str) -> dict[str, Any] | None:
        """The profile's steps for a surface on this channel (None: it describes none)."""

    def register(self, actor: Actor, account: Mapping[str, str]) -> Any:
        """Sign a persona up (and in); binds its token or session to the actor."""

    def sign_in(self, actor: Actor, account: Mapping[str, str]) -> Any:
        """Sign an account made beforehand (`accounts.provisioned`) in with the login steps."""

    def run_steps(self, steps: Iterable[Mapping[str, Any]], variables: dict[str, Any],
                  actors: Mapping[str, Actor], accounts: Mapping[str, Any], *,
                  action: str = "steps") -> list[Any]:
        """Run steps in order, stopping after the first that fails; their results, each
        labelled with its step of `action` (e.g. "post create")."""

    def classify(self, result: Any, surface: str | None = None) -> str:
        """accepted, rejected (moderation), invalid (validation) or error."""

    def refusal(self, result: Any, surface: str | None = None) -> Refusal:
        """`classify` with the rule that decided it and the site's own message."""

    def read(self, spec: Mapping[str, Any], variables: Mapping[str, Any],
             actors: Mapping[str, Actor], role: str, *, decisive: bool = True) -> Any:
        """One observing read as `role`; None when it needs an id the case does not have.
        `decisive`: the read may decide the actor's verdict (its last in a round), so a
        screenshot policy of `last` keeps a screenshot of it."""

    def screenshot(self, actors: Mapping[str, Actor], role: str) -> tuple[str, ...]:
        """Evidence of the place `role` read last, taken now (a read that was not decisive
        but showed the case); nothing where the channel has no pictures."""

    def match(self, read: Any, case: Any) -> tuple[bool, bool]:
        """Whether the case shows in a read: (visible, only its tag)."""

    def image_urls(self, read: Any, spec: Mapping[str, Any]) -> list[str]:
        """The images a read shows (where probe images would appear)."""

    def fetch_image(self, url: str, role: str, actors: Mapping[str, Actor]) -> bytes | None:
        """An image's bytes as `role` would load it; None when it cannot be fetched."""

    def release(self, actor: Actor) -> None:
        """Let go of what a finished case's fresh actor holds (its browser context), so that a
        test with many cases holds only those in flight."""

    def take_violations(self) -> list[dict[str, str]]:
        """Requests refused since last asked for leaving `allowed_hosts` (then forgotten)."""

    def close(self) -> None:
        """Release connections, browsers and temporary files."""
