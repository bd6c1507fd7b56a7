"""The converters' own environments (LiteRT-Torch; MediaPipe's metadata writer), made once on demand and reused.

    .venv/bin/python -m export.converter_env [--create]     # where they are; --create makes them (.ci/install does)

Why a second environment: onnx2tf 2.6.9 (our TFLite route) pins ai-edge-litert==2.1.2, while litert-torch
0.10 and ai-edge-quantizer 0.10 need ai-edge-litert 2.3.0 and xdsl caps typing-extensions below 4.13: no
single environment holds both routes. So the LiteRT-Torch conversion runs as a subprocess in a venv (same
base Python) whose site-packages holds only what conflicts or is missing (export/litert_torch_requirements.txt,
exact pins) plus a .pth that adds the main environment's site-packages *after* its own: torch, smp, numpy
and this toolkit come from the main environment, nothing large is downloaded twice, and the newer packages
shadow the older ones only inside that subprocess. It lives under $SEG_CONVERTER_ENVS (default
~/.cache/person-seg-toolkit), keyed by the pins, the main environment and the Python version.

MediaPipe's metadata writer gets one the same way (export/formats/tflite/metadata.py): the last `mediapipe` wheel whose
writer imports (0.10.21; the 0.10.30+ and 1.x wheels lack its `_pywrap_metadata_version`) pins numpy<2 and
protobuf<5, so its environment holds those two and the wheel alone (--no-deps: nothing else it imports is missing).
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from train.errors import UserError, cli_entry

from .job import say

ENV_VAR = "SEG_CONVERTER_ENVS"
READY = "seg-ready"  # written last: a folder without it is an interrupted creation
RUN_TIMEOUT_S = 3600  # one conversion or quantization in the environment
MAIN_ENV_LINK = "zz-main-environment.pth"


@dataclass(frozen=True)
class EnvSpec:
    """One converter environment: its folder prefix, its exact pins and the imports that prove it works."""

    name: str
    title: str  # what messages call it
    requirements: Path
    check_imports: str
    size: str  # said once, when it is created
    pip_args: tuple[str, ...] = ()


LITERT_TORCH = EnvSpec(
    "litert-torch", "LiteRT-Torch", Path(__file__).with_name("litert_torch_requirements.txt"),
    "import torch._dynamo, litert_torch, ai_edge_quantizer, segmentation_models_pytorch, export", "about 1 GB")
MEDIAPIPE_METADATA = EnvSpec(
    "mediapipe-metadata", "MediaPipe metadata writer", Path(__file__).with_name("mediapipe_metadata_requirements.txt"),
    # TensorFlow blocked as in the writer (export/formats/tflite/metadata_writer.py): the main env's needs numpy 2
    "import sys; sys.modules['tensorflow'] = None; "
    "import mediapipe.tasks.python.metadata.metadata_writers.image_segmenter", "about 160 MB", ("--no-deps",))
ENVIRONMENTS = (LITERT_TORCH, MEDIAPIPE_METADATA)
REQUIREMENTS = LITERT_TORCH.requirements


def envs_root() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "person-seg-toolkit"


def main_site_packages() -> str:
    return sysconfig.get_paths()["purelib"]


def converter_pins(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    """The exact versions the environment installs, by package name."""
    return dict(line.strip().split("==") for line in requirements.read_text().splitlines()
                if "==" in line and not line.startswith("#"))


def env_dir(spec: EnvSpec = LITERT_TORCH) -> Path:
    key = hashlib.sha256("\n".join((spec.requirements.read_text(), main_site_packages(), sys.version)).encode())
    return envs_root() / f"{spec.name}-{key.hexdigest()[:12]}"


def env_python(target: Path) -> Path:
    return target / "bin" / "python"


def ensure_env(spec: EnvSpec = LITERT_TORCH, pip_args: tuple[str, ...] = ()) -> Path:
    """The environment's python, creating the environment first if it is not there (one process at a time)."""
    target = env_dir(spec)
    if (target / READY).is_file():
        return env_python(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = open(target.parent / f"{target.name}.lock", "w")
    except OSError as err:
        raise UserError(f"cannot create the {spec.title} environment under {target.parent}: {err.strerror} "
                        f"(set {ENV_VAR} to a writable folder)") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another seg-export may be creating it right now
        if not (target / READY).is_file():
            create_env(target, spec.requirements, pip_args, spec)
    return env_python(target)


def remove_orphans(root: Path) -> list[Path]:
    """Delete converter environments whose main environment is gone (each clone's .venv keys its own, ~1 GB):
    nothing can use them any more."""
    removed = []
    for env in root.glob("*-*"):
        links = list(env.glob(f"lib/python*/site-packages/{MAIN_ENV_LINK}")) if env.is_dir() else []
        match = re.search(r"addsitedir\((['\"])(.*)\1\)", links[0].read_text()) if links else None
        if match and not Path(match.group(2)).is_dir():
            shutil.rmtree(env, ignore_errors=True)
            env.with_name(f"{env.name}.lock").unlink(missing_ok=True)
            removed.append(env)
    return removed


def create_env(target: Path, requirements: Path, pip_args: tuple[str, ...] = (),
               spec: EnvSpec = LITERT_TORCH) -> None:
    """Make the environment in a temporary folder and move it into place only once it imports."""
    for gone in remove_orphans(target.parent):
        say(f"removed {gone.name}: its main environment no longer exists")
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"creating the {spec.title} environment in {target} (once; {spec.size} of packages)")
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    step = lambda cmd, what: _step(cmd, what, spec.title)  # noqa: E731
    try:
        step([base_python, "-m", "venv", str(tmp)], "python -m venv")
        python = env_python(tmp)
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        # `import` lines in a .pth run at start-up: addsitedir also runs the main env's own .pth files
        # (this toolkit's editable install), and appends, so this env's packages come first
        Path(site, MAIN_ENV_LINK).write_text(f"import site; site.addsitedir({main_site_packages()!r})\n")
        step([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(requirements),
              *spec.pip_args, *pip_args], "pip install")
        step([str(python), "-c", spec.check_imports], "the import check")
        (tmp / READY).write_text(requirements.read_text())
        shutil.rmtree(target, ignore_errors=True)  # an interrupted earlier attempt
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _step(cmd: list[str], what: str, title: str) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as err:
        raise UserError(f"could not create the {title} environment: {what}: {err.strerror}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines()
                 if line.strip() and not line.startswith("WARNING: Location")]
        errors = [line for line in lines if "error" in line.lower()] or lines
        raise UserError(f"could not create the {title} environment: {what} exited with {done.returncode}: "
                        f"{errors[-1] if errors else 'no output'}")


def run_in_env(cmd: list[str], work: Path, what: str) -> dict:
    """A subprocess in the converter environment, run in `work`: its log is kept there, its last error line
    becomes the message, and the last JSON line it prints is its report."""
    from .errors import ConversionError
    from .formats.tflite.convert import _die_with_parent

    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=work,
                              env=this_toolkit_first(), preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired:
        raise ConversionError(f"{what} ran past {RUN_TIMEOUT_S} s") from None
    (work / f"{what}.log").write_text(done.stdout + done.stderr)
    if done.returncode < 0:
        raise ConversionError(f"{what} was killed by signal {-done.returncode}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = [line for line in done.stderr.splitlines() if line.strip()]
        raise ConversionError(f"{what} exited with {done.returncode}: {tail[-1] if tail else 'no output'}")
    return json.loads(lines[-1])


def this_toolkit_first() -> dict[str, str]:
    """The child's environment: its `export` package is this one (the environment's .pth would find the main
    environment's install, which may be another checkout)."""
    root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}


@cli_entry("export.converter_env")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.converter_env", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--create", action="store_true", help="create them now where they are not there")
    args = p.parse_args(argv)
    for spec in ENVIRONMENTS:
        if args.create:
            ensure_env(spec)
        target = env_dir(spec)
        print(f"{spec.title}: {target} ({'ready' if (target / READY).is_file() else 'not created yet'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
