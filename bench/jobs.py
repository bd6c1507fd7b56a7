"""Which rows to measure: artifacts found for each encoder (or one --model), crossed with backends."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from export.contract import ModelContract, Source, contract_path, read_contract
from train.errors import UserError
from train.zoo import short_name

from .backends import BACKENDS
from .foreign import FORMATS, ForeignFlags, foreign_contract
from .reference import source_key, torch_contract


@dataclass
class Job:
    backend: str
    model: str  # the row's model column
    encoder: str = ""
    fmt: str = ""
    precision: str = ""
    artifact: Path | None = None
    contract: ModelContract | None = None
    problem: str | None = None  # set: the row is reported with this reason instead of run
    problem_status: str = "failed"
    parity: bool = True  # compared with the PyTorch model it came from (not for a peer: another model)


_SUFFIXES = {fmt: suffix for suffix, fmt in FORMATS.items()}  # format -> its file ending


def find_artifacts(folder: Path) -> list[Path]:
    """Every model file in `folder` (.onnx, .tflite, .mlpackage, .pte) that has a contract beside it."""
    if not folder.is_dir():
        return []
    found = [p for p in sorted(folder.iterdir()) if p.suffix in FORMATS and contract_path(p).is_file()]
    return sorted(found, key=lambda p: (list(FORMATS).index(p.suffix), p.name))


def load_models(paths: list[Path], flags: ForeignFlags, checkpoint: str | Path | None) -> list[tuple[Path, ModelContract]]:
    """Each artifact with its contract (read beside it, or built from flags for foreign models)."""
    from export.api import UNTRAINED_SEED
    from train.default_model import resolve_checkpoint_arg

    checkpoint = resolve_checkpoint_arg(checkpoint)
    models = []
    for path in paths:
        if not path.exists():
            raise UserError(f"model not found: {path}")
        contract = read_contract(path) if contract_path(path).is_file() else foreign_contract(path, flags)
        if checkpoint == "none":
            contract = replace(contract, source=Source(encoder=contract.source.encoder, checkpoint=None,
                                                       checkpoint_sha256=None, trained=False, init_seed=UNTRAINED_SEED))
        elif checkpoint is not None:
            contract = replace(contract, source=checkpoint_source(checkpoint))
        models.append((path, contract))
    return models


def checkpoint_source(path: Path) -> Source:
    """The reference for parity named on the command line (foreign models, or to override the contract's)."""
    from train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    return Source(encoder=ckpt.meta.encoder, checkpoint=str(path), checkpoint_sha256=ckpt.sha256(), trained=True,
                  dataset=ckpt.meta.dataset, person_class=ckpt.meta.person_class, epoch=ckpt.meta.epoch)


def has_reference(contract: ModelContract) -> bool:
    return bool(contract.source.checkpoint) or contract.source.init_seed is not None


def build_jobs(models: list[tuple[Path, ModelContract]], backends: list[str], precisions: set[str] | None,
               reasons: dict[str, str | None], *, explicit: bool) -> list[Job]:
    """Rows for one encoder (or one --model): each backend on each artifact it can run.

    `reasons[name]` says why a backend cannot run here: it becomes one row with that status. With
    `explicit` (the user named the backends), a backend with no artifact of its format also gets a row.
    """
    jobs: list[Job] = []
    for name in backends:
        cls = BACKENDS[name]
        if "torch" in cls.formats:
            targets = _torch_targets(models, cls.precisions, precisions)
        else:
            targets = [(p, c, c.precision, p.name) for p, c in models
                       if c.format in cls.formats and (precisions is None or c.precision in precisions)]
        encoder = _encoder_of(models)
        if targets and reasons.get(name):
            jobs.append(Job(name, encoder or "-", encoder, problem=reasons[name], problem_status="unavailable"))
        elif targets:
            jobs += [_job_or_refusal(cls, Job(name, label, encoder, c.format, prec, p, c))
                     for p, c, prec, label in targets]
        elif explicit or reasons.get(name):
            what = "PyTorch source (no contract names a checkpoint or seed)" if "torch" in cls.formats else \
                "/".join(_SUFFIXES.get(f, f".{f}") for f in cls.formats) + " artifacts"
            at = f" at {'/'.join(sorted(precisions))}" if precisions else ""
            jobs.append(Job(name, encoder or "-", encoder, problem=reasons.get(name) or f"nothing to run: no {what}{at}",
                            problem_status="unavailable"))
    return jobs


def _job_or_refusal(cls, job: Job) -> Job:
    """The job, or an 'unavailable' row where the runtime cannot take this artifact (an export without the
    metadata it reads, a normalization it does not do)."""
    try:
        refusal = cls.refuses(job.artifact, job.contract)
    except Exception:  # an unreadable file: loading it will say why, as for every backend
        refusal = None
    if refusal:
        job.problem, job.problem_status = refusal, "unavailable"
    return job


def _encoder_of(models) -> str:
    names = {short_name(c.source.encoder) for _, c in models}
    return names.pop() if len(names) == 1 else ""


def _torch_targets(models, backend_precisions, wanted):
    """One torch row per distinct source and input size (and precision the backend runs)."""
    seen, targets = set(), []
    for path, contract in models:
        key = (source_key(contract.source), tuple(contract.input_hw), tuple(contract.preprocess.mean))
        if not has_reference(contract) or key in seen:
            continue
        seen.add(key)
        tc = torch_contract(contract)
        h, w = contract.input_hw
        label = f"{short_name(contract.source.encoder)}-{h}x{w} (PyTorch)"
        for precision in backend_precisions:
            if wanted is None or precision in wanted:
                targets.append((Path(contract.source.checkpoint or path), tc, precision, label))
    return targets
