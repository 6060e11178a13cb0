"""Variant figures: cases per second of the default evasion matrix over the API against the
reference site, and the time to generate 100,000 variant cases.

The matrix is every surface x family cell of the default policy (must_block and must_allow
cases, the canary sample as the corpus) plus the over-blocking bank, run the way
scenarios/a5_4/test_evasion.py runs it (one family at a time, its cases side by side) but
in-process, without pytest. Generation builds the same cells round after round, each with a
new seed, until it has made the asked-for number of cases; text and image families are timed
apart, since an image case renders a picture.

    .venv/bin/python bench/bench_variants.py [--generate N] [--policy FILE] [--no-api]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from harness import controls, reference
from harness.observe.flow import Session
from harness.observe.rates import RateCaseRun, concurrency, run_rate_cases
from harness.policy import Policy, load_policy
from harness.probes.cases import MUST_ALLOW, MUST_BLOCK, Case
from harness.probes.corpora import DEFAULT_CORPUS, OVERBLOCKING_BANK, load_corpus
from harness.probes.matrix import (
    RATE_SURFACES,
    TEXT_SURFACES,
    bank_pool,
    cell_cases,
    families_for,
    must_block_pool,
)
from harness.probes.variants import get
from harness.seeds import derive_seed
from harness.targets.api import ApiTarget
from harness.targets.profile import REFERENCE_PROFILE, load_profile


def matrix(policy: Policy, seed: int, kinds: tuple[str, ...] = ("text", "image"),
           bank: bool = True) -> dict[tuple[str, str], list[Case]]:
    """The default matrix's cases by (family, expect), as the scenario draws them."""
    pool = must_block_pool([load_corpus(DEFAULT_CORPUS)])
    cells: dict[tuple[str, str], list[Case]] = {}
    families = dict.fromkeys(f for s in RATE_SURFACES for f in families_for(s))
    for family in families:
        if get(family).kind not in kinds:
            continue
        gate = policy.rates.gate(family)
        for expect, n in ((MUST_BLOCK, gate.must_block_n), (MUST_ALLOW, gate.must_allow_n)):
            cells[family, expect] = [
                case for surface in RATE_SURFACES if family in families_for(surface)
                for case in cell_cases(surface, family, expect, n,
                                       derive_seed(seed, f"{surface}/{family}/{expect}"),
                                       pool=pool if expect == MUST_BLOCK else None)]
    if bank:
        rows = bank_pool(load_corpus(OVERBLOCKING_BANK))
        cells["identity", MUST_ALLOW] = [
            case for surface in TEXT_SURFACES
            for case in cell_cases(surface, "identity", MUST_ALLOW, policy.overblocking.n,
                                   derive_seed(seed, f"{surface}/bank"), pool=rows)]
    return cells


def generation(policy: Policy, count: int, kind: str) -> tuple[int, float]:
    """Cases of `kind` families made in `count`-case rounds of the matrix, and the seconds."""
    made, round_, started = 0, 0, time.perf_counter()
    while made < count:
        for cases in matrix(policy, round_, (kind,), bank=False).values():
            made += len(cases)
        round_ += 1
    return made, time.perf_counter() - started


def run_matrix(policy: Policy, seed: int) -> tuple[int, float, Counter[str]]:
    """Run every case of the matrix against the reference site; cases, seconds, verdicts."""
    cells = matrix(policy, seed)
    verdicts: Counter[str] = Counter()
    with reference.start() as site:
        os.environ[reference.ADMIN_TOKEN_ENV] = site.admin_token
        profile = load_profile(REFERENCE_PROFILE, base_url=site.url)
        with ApiTarget(profile) as target:
            session = Session.open(target, derive_seed(seed, "actors"), "bench")
            started = time.perf_counter()
            for (family, _), cases in cells.items():
                control = (controls.A5_4_OVERBLOCK if family == "identity"
                           else controls.for_family(family).id)
                runs = [RateCaseRun(session, case, policy, derive_seed(seed, case.case_id + str(i)),
                                    control=control) for i, case in enumerate(cases)]
                at_once = concurrency(policy, "api", image=get(family).kind == "image")
                for result in run_rate_cases(runs, at_once=at_once, threads=True):
                    verdicts.update(o.verdict.value for o in result.observations)
            elapsed = time.perf_counter() - started
    return sum(len(c) for c in cells.values()), elapsed, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generate", type=int, default=100_000, metavar="N",
                        help="text variant cases to generate (default: 100000)")
    parser.add_argument("--images", type=int, default=200, metavar="N",
                        help="image variant cases to generate (default: 200)")
    parser.add_argument("--policy", type=Path, help="policy (default: the default policy)")
    parser.add_argument("--no-api", action="store_true", help="skip the run against the site")
    args = parser.parse_args()
    policy = load_policy(args.policy)

    made, seconds = generation(policy, args.generate, "text")
    print(f"generate: {made} text variant cases in {seconds:.1f}s -> {made / seconds:.0f} "
          f"cases/s ({seconds / made * 1e6:.0f} us per case)")
    made, seconds = generation(policy, args.images, "image")
    print(f"generate: {made} image variant cases in {seconds:.1f}s -> {made / seconds:.1f} "
          f"cases/s")
    if not args.no_api:
        cases, seconds, verdicts = run_matrix(policy, 1000)
        print(f"api: {cases} cases of the default matrix against the reference site in "
              f"{seconds:.1f}s -> {cases / seconds:.1f} cases/s (grace window "
              f"{policy.grace_seconds:g}s; verdicts {dict(verdicts)})")


if __name__ == "__main__":
    main()
