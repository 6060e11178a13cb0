"""The harness's load, for Locust: users that drive the target through its profile's API steps
and the stepped stages of the plan (harness.load.users). The harness starts it as

    python -m locust -f scenarios/load/locustfile.py --headless --harness-plan PLAN.json ...

(`harness load` and the load scenario write the plan). Run as a script, one user runs alone
against the plan, for debugging: `python scenarios/load/locustfile.py --harness-plan PLAN`.
"""

from __future__ import annotations

from harness.load.users import ProfileUser, SteppedShape

__all__ = ["ProfileUser", "SteppedShape"]

if __name__ == "__main__":
    from locust import run_single_user

    run_single_user(ProfileUser)
