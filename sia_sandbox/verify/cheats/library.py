"""Cheat definitions (name, threat) and rendering into self-contained candidate files."""

from __future__ import annotations

import base64
from pathlib import Path
from string import Template

from pydantic import BaseModel, ConfigDict

from sia_sandbox.errors import ConfigError

TEMPLATES = Path(__file__).with_name("templates")
InterfaceKind = str


class Cheat(BaseModel):
    """One adversarial behaviour."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    threat: str
    """What the cheat tries, in one line (shown in the check table)."""
    needs_fingerprints: bool = False
    """Rendered with the fingerprints of the nominal inputs (answers that only fit the nominal seeds)."""

    def kinds(self) -> list[InterfaceKind]:
        return sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir() and (p / f"{self.name}.py").exists())


CHEATS: list[Cheat] = [
    Cheat(name="constant", threat="constant output of the right shape (zeros / the majority label)"),
    Cheat(name="empty", threat="empty output / abstain on every item"),
    Cheat(name="nan", threat="NaN everywhere, hoping NaN compares as a wildcard"),
    Cheat(name="inf", threat="infinities sprinkled into an otherwise honest output"),
    Cheat(name="negative", threat="negative values where counts must be non-negative"),
    Cheat(name="huge", threat="absurdly large values (metric overflow)"),
    Cheat(name="wrong_shape", threat="output of the wrong shape"),
    Cheat(name="every_label", threat="answer every label for every item (recall gaming)"),
    Cheat(name="garbage_types", threat="output of the wrong type altogether"),
    Cheat(name="crash", threat="raise an exception"),
    Cheat(name="os_exit", threat="os._exit(0) mid-call, hoping a clean exit reads as success"),
    Cheat(name="infinite_loop", threat="never return"),
    Cheat(name="memory_bomb", threat="allocate until the machine dies"),
    Cheat(name="forged_result", threat="write fake verdict/result files wherever it can"),
    Cheat(name="timer_patch", threat="patch time.*, torch.cuda.Event and synchronize to shrink timings"),
    Cheat(name="cache_identity", threat="cache outputs by input identity (id / data_ptr / item id)"),
    Cheat(name="cache_shape", threat="cache outputs by input shape"),
    Cheat(name="warmup_replay", threat="compute once during warm-up, replay that result forever"),
    Cheat(name="background_completion", threat="return early, finish the output in a thread after return"),
    Cheat(name="gc_scan", threat="scan the garbage collector for the expected outputs"),
    Cheat(name="read_gold", threat="read every file it can, looking for gold answers"),
    Cheat(name="mutate_inputs", threat="mutate its inputs so a lazy checker agrees with it"),
    Cheat(name="subclass", threat="return a subclass whose comparisons lie"),
    Cheat(name="lazy", threat="return a lazy object that computes only when inspected"),
    Cheat(name="memorized_nominal", threat="answers that only fit the nominal seeds (memorised from a nominal run)",
          needs_fingerprints=True),
]
RECORDER = "recorder"
"""Not a cheat: the honest reference that prints ``SIA-FP <fingerprint>`` of every input to stderr,
used to learn the nominal inputs for ``memorized_nominal``."""


def cheats_for(kind: InterfaceKind) -> list[Cheat]:
    """The cheats that have a template for this interface kind."""
    return [c for c in CHEATS if (TEMPLATES / kind / f"{c.name}.py").exists()]


def render_cheat(name: str, *, kind: InterfaceKind, entrypoint: str, honest_source: str,
                 fingerprints: list[str] | None = None, label_key: str = "labels") -> str:
    """Source of a self-contained candidate file for cheat ``name``.

    Raises:
        ConfigError: no template for this cheat and interface kind.
    """
    body_path = TEMPLATES / kind / f"{name}.py"
    if not body_path.exists():
        raise ConfigError(f"cheat {name!r} has no template for interface {kind!r}",
                          hint=f"known for {kind}: {', '.join(c.name for c in cheats_for(kind))}")
    threat = next((c.threat for c in CHEATS if c.name == name), "records nominal input fingerprints")
    values = {
        "name": name, "interface": kind, "threat": threat, "entry": entrypoint, "label_key": label_key,
        "honest_b64": base64.b64encode(honest_source.encode("utf-8")).decode("ascii"),
        "fingerprints": repr(sorted(fingerprints or [])),
    }
    header = Template((TEMPLATES / "_header.py").read_text()).substitute(values)
    body = Template(body_path.read_text()).substitute(values)
    return header + "\n\n" + body
