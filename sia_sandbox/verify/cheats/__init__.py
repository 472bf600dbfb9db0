"""The cheat library: generic adversarial candidates, parametrised by a task's declared interface.

Each cheat is a template per interface kind (``templates/<kind>/<name>.py``) behind a shared header
that embeds the task's honest reference (so a cheat can be "honest except for the trick", the way real
reward hacks are). ``sia verifier check`` renders every cheat for a task and runs it through the
task's verifier; a cheat that comes out ``verified`` with a gain over the honest reference means the
verifier can be gamed.
"""

from __future__ import annotations

from sia_sandbox.verify.cheats.library import CHEATS, Cheat, cheats_for, render_cheat

__all__ = ["CHEATS", "Cheat", "cheats_for", "render_cheat"]
