"""Reading back what happened: visibility per actor, audit records."""

from __future__ import annotations
