"""API assessment figures: cases per second, wall time, and where the time goes.

Runs the Article 5(4) cases in-process twice with the same seed: against the reference site
(started as a subprocess on a free loopback port), and against an instant in-process target
(an httpx MockTransport that stores writes and answers every read at once). The instant run
is the harness's own cost; the difference is time spent waiting on the target.

    .venv/bin/python bench/bench_api.py [--repeat N] [--surfaces post,comment,...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[1]))

from harness import reference
from harness.observe.flow import Session, run_case
from harness.policy import Policy, load_policy
from harness.probes.cases import MODES, build_case, probes_for
from harness.seeds import derive_seed
from harness.targets.api import ApiTarget
from harness.targets.profile import REFERENCE_PROFILE, SURFACES, load_profile


class InstantTarget:
    """A target that answers at once: writes are stored, every read shows every write (text,
    images and audit records), so each case runs the harness's full path with no waiting."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.images: dict[str, bytes] = {}
        self.records: list[dict[str, object]] = []
        self.next_id = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/media/"):
            return httpx.Response(200, content=self.images[path], headers={
                "content-type": "image/png"})
        if request.method == "GET":
            if path.endswith("/policy"):
                return httpx.Response(200, json={"retention_days": 180})
            if path.startswith("/api/admin/audit"):
                return httpx.Response(200, json={"records": self.records})
            latest = next(reversed(self.images), None)
            return httpx.Response(200, json={
                "items": self.texts, "avatar_url": latest, "logo_url": latest,
            })
        self.next_id += 1
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/"):
            body = request.content
            start = body.index(b"\r\n\r\n") + 4
            data = body[start:body.rindex(b"\r\n--")]
            digest = hashlib.sha256(data).hexdigest()
            self.images[f"/media/{digest}.png"] = data
        else:
            payload = json.loads(request.content or b"{}")
            values = [v for k, v in payload.items() if k != "password" and isinstance(v, str)]
            self.texts.extend(values)
            digest = hashlib.sha256(values[-1].encode()).hexdigest() if values else ""
        self.records.append({"content_sha256": digest, "decision": "allowed"})
        return httpx.Response(201, json={"id": self.next_id, "user_id": self.next_id,
                                         "token": f"t{self.next_id}"})


def run_all(
    target: ApiTarget, surfaces: list[str], seed: int, policy: Policy,
) -> tuple[float, Counter[str]]:
    session = Session.open(target, derive_seed(seed, "actors"), "bench")
    verdicts: Counter[str] = Counter()
    started = time.perf_counter()
    for surface in surfaces:
        joiner = target.profile.surface(surface).get("joiner", " ")
        for mode in MODES:
            for probe in probes_for(surface):
                case_seed = derive_seed(seed, f"{surface}/{mode}/{probe.id}")
                case = build_case(surface, mode, probe, case_seed, joiner)
                for observation in run_case(session, case, policy, case_seed).observations:
                    verdicts[f"{observation.control}:{observation.verdict.value}"] += 1
    return time.perf_counter() - started, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--surfaces", default=",".join(SURFACES))
    args = parser.parse_args()
    surfaces = args.surfaces.split(",")
    policy = load_policy()
    instant_policy = replace(policy, grace_seconds=0.0, audit_wait_seconds=0.0)
    cases = sum(len(probes_for(s)) for s in surfaces) * len(MODES)

    real_times, instant_times = [], []
    with reference.start() as site:
        os.environ[reference.ADMIN_TOKEN_ENV] = site.admin_token
        profile = load_profile(REFERENCE_PROFILE, base_url=site.url)
        for repeat in range(args.repeat):
            with ApiTarget(profile) as target:
                elapsed, verdicts = run_all(target, surfaces, 1000 + repeat, policy)
            real_times.append(elapsed)
            print(f"reference site run {repeat + 1}: {elapsed:.2f}s {dict(verdicts)}")
    for repeat in range(args.repeat):
        with ApiTarget(profile, transport=httpx.MockTransport(InstantTarget())) as target:
            elapsed, _ = run_all(target, surfaces, 1000 + repeat, instant_policy)
        instant_times.append(elapsed)

    real, instant = statistics.median(real_times), statistics.median(instant_times)
    print(f"cases: {cases} on {len(surfaces)} surfaces")
    print(f"wall time (reference site): {real:.2f}s  -> {cases / real:.1f} cases/s")
    print(f"harness-only time (instant target): {instant:.2f}s -> {cases / instant:.1f} cases/s")
    print(f"share of time waiting on the target: {1 - instant / real:.1%}; "
          f"harness code: {instant / real:.1%}")


if __name__ == "__main__":
    main()
