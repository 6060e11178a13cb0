"""The reference site: a small but real social web service, the harness's default target.

It implements every surface the harness checks (account names, nicknames, introductions,
remarks, avatars, groups, posts, forwards, comments, group messages) with real moderation, an
audit log and a report workflow, and can be started with faults that break one control each.
The harness never imports it; they meet over HTTP (`python -m reference_site`).
"""

from __future__ import annotations

from reference_site.app import create_app

__all__ = ["create_app"]
