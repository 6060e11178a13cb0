"""Browser channel figures: the harness's seconds per bio observation beside the same flow
written by hand with bare Playwright, measured in the same run on the same site, and the wall
time of a full browser assessment of the reference site.

    .venv/bin/python bench/bench_browser.py [--cases N] [--workers N] [--full]

The flow, both ways: a fresh author signs up through the pages and sets a bio; a signed-in
viewer and an anonymous visitor open the author's page, each with a full-page screenshot and
the DOM. The hand-written script uses a fresh context for every actor of every case (the viewer
signed up once, its cookies reused). It runs twice: on bare Playwright (its own switches and
the flags a closed network needs: the goal's baseline) and with the harness's launch options
(the features no assessment uses turned off), which isolates what the harness's flow itself
costs. The harness's figure is `duration_s` of its A5.4-BIO create observations (`harness
assess --channel browser --control A5.4-BIO`: from the case's first request to its verdict,
the audit record's lookup included); its goal is at most half the bare hand-written figure.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))

from harness import controls, reference
from harness.evidence import read_entries
from harness.targets.browser import LAUNCH_ARGS, find_browser, launch_options

SURFACE_CONTROLS = {c.id for c in controls.catalog().values() if c.surface}


def _median_p95(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1,
                                                   round(0.95 * (len(ordered) - 1)))]


def _sign_up(page: Any, name: str) -> str:
    page.goto("/register")
    page.fill("#account_name", name)
    page.fill("#nickname", name)
    page.fill("#password", "Pw-" + secrets.token_hex(8))
    with page.expect_navigation():
        page.get_by_role("button", name="注册 Register").click()
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def bare_options(executable: str | None) -> dict[str, Any]:
    """Playwright's launch as a script would write it: the flags a closed network needs."""
    return {"args": list(LAUNCH_ARGS),
            **({"executable_path": executable} if executable else {})}


def hand_written(url: str, cases: int, options: dict[str, Any]) -> list[float]:
    """Seconds per bio observation of the flow written by hand (fresh contexts throughout),
    on a Chromium launched with `options`."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    times = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as out:
        browser = playwright.chromium.launch(**options)
        setup = browser.new_context(base_url=url, locale="zh-CN")
        _sign_up(setup.new_page(), f"bv{secrets.token_hex(4)}")
        viewer_state = setup.storage_state()
        setup.close()
        for n in range(cases):
            started = time.perf_counter()
            author = browser.new_context(base_url=url, locale="zh-CN")
            page = author.new_page()
            author_id = _sign_up(page, f"ba{secrets.token_hex(4)}")
            page.goto("/me/edit")
            page.fill("#bio", f"bench bio {n} {secrets.token_hex(4)}")
            with page.expect_navigation():
                page.click("form[action='/me/edit'] button[type=submit]")
            author.close()
            for role, state in (("viewer", viewer_state), ("anonymous", None)):
                context = browser.new_context(base_url=url, locale="zh-CN", storage_state=state)
                reader = context.new_page()
                reader.goto(f"/users/{author_id}")
                reader.screenshot(path=f"{out}/{role}-{n}.png", full_page=True)
                Path(f"{out}/{role}-{n}.html").write_text(reader.content(), encoding="utf-8")
                context.close()
            times.append(time.perf_counter() - started)
        browser.close()
    return times


def harness_run(args: list[str], workers: str,
                mode: str | None = None) -> tuple[int, list[float], float]:
    """(exit code, seconds per surface observation, wall time) of one `harness assess`;
    with `mode`, only that mode's cases (`create`: the flow the hand-written script makes)."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "assess", "--channel", "browser", "--out", out,
             "-n", workers, "--seed", "11", *args, "--", "-q"],
            capture_output=True, text=True, check=False,
        )
        wall = time.perf_counter() - started
        runs = [p for p in Path(out).iterdir() if p.is_dir() and not p.is_symlink()]
        if not runs:
            sys.exit(f"no run was written:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        durations = [
            e["duration_s"] for e in read_entries(runs[0])
            if e["entry_type"] == "observation" and e["control"] in SURFACE_CONTROLS
            and e.get("duration_s") is not None
            and (mode is None or f"/{mode}/" in e["case_id"])
        ]
    if not durations:
        sys.exit("no timed observation in the run")
    return done.returncode, durations, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=12, help="hand-written cases (default 12)")
    parser.add_argument("--workers", default="1",
                        help="workers of the harness's bio run (default 1, like the script)")
    parser.add_argument("--full", action="store_true",
                        help="also a full browser assessment with 2 workers")
    args = parser.parse_args()
    executable = find_browser()
    site = reference.start()
    try:
        bare = hand_written(site.url, args.cases, bare_options(executable))
        tuned = hand_written(site.url, args.cases, launch_options(executable))
    finally:
        site.stop()
    code, bio, _ = harness_run(["--control", "A5.4-BIO"], args.workers, mode="create")
    bare_median, bare_p95 = _median_p95(bare)
    tuned_median, tuned_p95 = _median_p95(tuned)
    bio_median, bio_p95 = _median_p95(bio)
    print(f"hand-written bio flow, bare Playwright: median {bare_median:.2f}s, "
          f"p95 {bare_p95:.2f}s ({len(bare)} cases)")
    print(f"hand-written bio flow, the harness's launch options: median {tuned_median:.2f}s, "
          f"p95 {tuned_p95:.2f}s ({len(tuned)} cases)")
    print(f"harness bio observation: median {bio_median:.2f}s, p95 {bio_p95:.2f}s "
          f"({len(bio)} create observations, exit code {code})")
    print(f"harness / hand-written on bare Playwright: {bio_median / bare_median:.2f} "
          "(goal: at most 0.50)")
    print(f"harness / hand-written with the same launch options: "
          f"{bio_median / tuned_median:.2f} (the flow's own cost)")
    if args.full:
        code, durations, wall = harness_run([], "2")
        median, p95 = _median_p95(durations)
        print(f"full browser assessment: exit code {code}, {len(durations)} observations, "
              f"median {median:.2f}s, p95 {p95:.2f}s, wall {wall:.1f}s")


if __name__ == "__main__":
    main()
