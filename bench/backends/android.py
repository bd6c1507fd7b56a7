"""Android phones over adb: one row per device, timed by the tool itself. `.tflite` runs in TFLite's
`benchmark_model`, `.pte` in ExecuTorch's `executor_runner` (bench/executor_runner_output.py).

The user brings the binaries (`--benchmark-model PATH`, `--executor-runner PATH`, built for the phone's ABI;
they cannot be downloaded here). The binary and the model are pushed to /data/local/tmp and run there.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from export.contract import ModelContract
from train.errors import UserError

from ..adb import Adb, state_problem
from ..benchmark_model_output import BenchmarkOutputError, BenchmarkReport, parse_benchmark_output
from ..executor_runner_output import parse_executor_runner_output
from .base import Backend

REMOTE_DIR = "/data/local/tmp"


@dataclass
class DeviceRun:
    serial: str
    device: str = ""
    report: BenchmarkReport | None = None
    problem: str | None = None  # why this device gave no numbers
    unavailable: bool = False  # the device cannot be used at all (vs. the run failed on it)
    versions: dict | None = None


class Android(Backend):
    name = "android"
    formats = ("tflite", "executorch")
    self_timed = True

    def __init__(self, options=None):
        super().__init__(options)
        self.adb = Adb()

    def available(self) -> str | None:
        binary = self.options.benchmark_model
        if missing := self.adb.missing():
            return missing
        if binary is None and self.options.executor_runner is None:
            return "needs --benchmark-model PATH (TFLite's benchmark_model for the phone's ABI; it cannot be downloaded here)"
        for given in (binary, self.options.executor_runner):
            if given is not None and not Path(given).is_file():
                return f"{Path(given).name} binary not found: {given}"
        if not self.adb.devices():
            return "no adb device connected (adb devices lists none)"
        return None

    def flags(self, remote_model: str) -> list[str]:
        o = self.options
        flags = [f"--graph={remote_model}", f"--num_runs={o.runs}", f"--warmup_runs={o.warmup}",
                 f"--use_gpu={str(o.use_gpu).lower()}", f"--use_nnapi={str(o.use_nnapi).lower()}",
                 "--report_peak_memory_footprint=true"]
        if o.threads is not None:  # else the binary's default: the phone's cores differ from this host's
            flags.append(f"--num_threads={o.threads}")
        if o.use_xnnpack is not None:
            flags.append(f"--use_xnnpack={str(o.use_xnnpack).lower()}")
        return flags

    def runner_flags(self, remote_model: str) -> list[str]:
        """executor_runner: it times `num_executions` runs together, the warm-up ones included."""
        o = self.options
        flags = [f"--model_path={remote_model}", f"--num_executions={o.warmup + o.runs}"]
        if o.threads is not None:
            flags.append(f"--cpu_threads={o.threads}")
        return flags

    def device_runs(self, artifact: Path, contract: ModelContract) -> list[DeviceRun]:
        states = self.adb.devices()
        serials = self.options.serials or list(states)
        if contract.format == "executorch" and self.options.executor_runner is None:
            return [DeviceRun(s, problem="a .pte needs --executor-runner PATH (ExecuTorch's executor_runner for the "
                                         "phone's ABI, built with XNNPACK)", unavailable=True) for s in serials]
        if contract.format == "tflite" and self.options.benchmark_model is None:
            return [DeviceRun(s, problem="a .tflite needs --benchmark-model PATH", unavailable=True) for s in serials]
        return [self._run_on(serial, states.get(serial), artifact, contract.format) for serial in serials]

    def _run_on(self, serial: str, state: str | None, artifact: Path, fmt: str = "tflite") -> DeviceRun:
        if state is None:
            return DeviceRun(serial, problem=f"device {serial} is not connected (adb devices does not list it)", unavailable=True)
        if problem := state_problem(serial, state):
            return DeviceRun(serial, problem=problem, unavailable=True)
        pte = fmt == "executorch"
        binary = Path(self.options.executor_runner if pte else self.options.benchmark_model)
        run = DeviceRun(serial, device=self._describe(serial), versions=self._versions(serial, binary))
        remote_bin, remote_model = f"{REMOTE_DIR}/{binary.name}", f"{REMOTE_DIR}/{artifact.name}"
        try:
            self.adb.push(serial, binary, remote_bin)
            self.adb.push(serial, artifact, remote_model)
        except UserError as err:
            run.problem = str(err)
            return run
        flags = self.runner_flags(remote_model) if pte else self.flags(remote_model)
        command = " ".join([f"chmod 755 {shlex.quote(remote_bin)} &&", shlex.quote(remote_bin),
                            *map(shlex.quote, flags)])
        shell = self.adb.shell(serial, command)
        try:
            run.report = (parse_executor_runner_output if pte else parse_benchmark_output)(shell.output)
        except BenchmarkOutputError as err:
            run.problem = f"{binary.name} failed on {serial} (exit {shell.rc}): {err}"
        return run

    def _describe(self, serial: str) -> str:
        maker, model = self.adb.getprop(serial, "ro.product.manufacturer"), self.adb.getprop(serial, "ro.product.model")
        soc = self.adb.getprop(serial, "ro.soc.model") or self.adb.getprop(serial, "ro.board.platform")
        return " ".join(p for p in (maker, model, f"({soc})" if soc else "", f"[{serial}]") if p)

    def _versions(self, serial: str, binary: Path) -> dict:
        return {"android": self.adb.getprop(serial, "ro.build.version.release"),
                "abi": self.adb.getprop(serial, "ro.product.cpu.abi"),
                "executor_runner" if binary == self.options.executor_runner else "benchmark_model": binary.name}
