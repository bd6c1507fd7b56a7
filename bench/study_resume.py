"""How seg-study goes on where it stopped: a training run's epochs done and planned, a run made for another
budget set aside, and the stamp of its inputs that a finished step leaves (the same inputs again: not redone)."""
from __future__ import annotations

import json
from pathlib import Path

from train.atomic import write_text_atomic
from train.errors import UserError


def trained_epochs(run_dir: Path) -> int:
    """Epochs a run has finished, from the summary the trainer writes after each saved epoch (0: none)."""
    try:
        return int(json.loads((run_dir / "summary.json").read_text())["last"]["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def planned_epochs(run_dir: Path) -> int | None:
    """The epoch count a run was started for (its schedule spans them), from its last checkpoint."""
    from train.checkpoint import load_checkpoint

    try:
        return int(load_checkpoint(run_dir / "last.pt").meta.recipe["epochs"])
    except (UserError, KeyError, TypeError, ValueError):
        return None


def set_aside(run_dir: Path, planned: int) -> Path:
    """A run made for another budget is kept beside the new one (never deleted) and no longer collected."""
    target = run_dir.with_name(f"{run_dir.name}.{planned}-epochs")
    n = 1
    while target.exists():
        n += 1
        target = run_dir.with_name(f"{run_dir.name}.{planned}-epochs.{n}")
    run_dir.rename(target)
    return target


def stamp_matches(stamp: Path, expected: dict) -> bool:
    """A finished step leaves a stamp of its inputs; the same inputs again mean nothing to redo."""
    try:
        return json.loads(stamp.read_text()) == expected
    except (OSError, ValueError):
        return False


def portable(command: list[str], out: Path) -> list[str]:
    """A command as a stamp keeps it: the study folder's own path left out, so a moved study is still done."""
    return [arg.replace(str(out), "<study>") for arg in command[1:]]


def write_stamp(stamp: Path, inputs: dict) -> None:
    write_text_atomic(stamp, json.dumps(inputs, indent=2) + "\n")


def export_stamps(export_root: Path, encoders) -> dict:
    """What each encoder's exports were made from: a bench stamped with them is redone when they change."""
    return {e: (export_root / e / "study-stamp.json").read_text() if (export_root / e / "study-stamp.json").is_file()
            else None for e in encoders}
