"""Checksummed, relocatable artifacts: the sha256 and size a contract records, the check before loading,
and checkpoint paths stored relative to the contract (never a machine's absolute path)."""
from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

from train.checkpoint import file_sha256
from train.errors import UserError


def artifact_digest(path: str | Path) -> tuple[str, int]:
    """(sha256, bytes) of a file, or of a folder artifact (.mlpackage): its files' relative names and contents."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path), path.stat().st_size
    if not path.is_dir():
        raise UserError(f"artifact not found: {path}")
    digest, size = hashlib.sha256(), 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + file_sha256(file).encode() + b"\n")
        size += file.stat().st_size
    return digest.hexdigest(), size


def verify_artifact(artifact: str | Path, contract) -> None:
    """Refuse, in one line, an artifact whose size or sha256 is not what its contract recorded.

    Contracts written before checksums existed (schema 1) record none: there is nothing to check.
    """
    if contract.artifact_sha256 is None and contract.artifact_bytes is None:
        return
    artifact = Path(artifact)
    sha256, size = artifact_digest(artifact)
    if contract.artifact_bytes is not None and size != contract.artifact_bytes:
        problem = f"it has {size:,} bytes, the contract says {contract.artifact_bytes:,}"
    elif contract.artifact_sha256 is not None and sha256 != contract.artifact_sha256:
        problem = "its sha256 differs from the contract's"
    else:
        return
    raise UserError(f"{artifact.name} does not match its contract: {problem} "
                    "(damaged, truncated or replaced since export; export or copy it again)")


def portable_path(target: str | Path, folder: str | Path) -> str:
    """How a contract in `folder` names `target`: relative to `folder` when they share more than the
    filesystem root, else relative to the current directory when it lies below it, else its file name."""
    target, folder = Path(target).resolve(), Path(folder).resolve()
    try:
        common = Path(os.path.commonpath([target, folder]))
    except ValueError:  # different drives
        common = Path(target.anchor)
    if common != Path(common.anchor):
        return Path(os.path.relpath(target, folder)).as_posix()
    cwd = Path.cwd().resolve()
    return target.relative_to(cwd).as_posix() if target.is_relative_to(cwd) else target.name


def display_path(path: str | Path, parts: int = 3) -> str:
    """The last few components of a folder ('ccp/val/images'): for notes, without the machine's path."""
    return "/".join(Path(path).resolve().parts[-parts:])


def locate_checkpoint(checkpoint: str, folder: str | Path, sha256: str | None = None) -> Path:
    """Where a contract's `source.checkpoint` is on this machine: relative to the contract's folder, then as
    given (relative to the current directory); the shipped default model is also found by its checksum."""
    path = Path(checkpoint)
    candidates = [path] if path.is_absolute() else [Path(os.path.normpath(Path(folder) / path)), path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    from train.default_model import DEFAULT_WEIGHTS, expected_sha256

    if sha256 is not None and DEFAULT_WEIGHTS.is_file() and expected_sha256(DEFAULT_WEIGHTS) == sha256:
        return DEFAULT_WEIGHTS
    return candidates[0]  # not here: whoever loads it says so


def with_local_checkpoint(contract, artifact: str | Path):
    """The contract read beside `artifact`, its checkpoint resolved to a path usable from here (in memory only)."""
    source = contract.source
    if not source.checkpoint:
        return contract
    found = locate_checkpoint(source.checkpoint, Path(artifact).parent, source.checkpoint_sha256)
    return replace(contract, source=replace(source, checkpoint=str(found)))
