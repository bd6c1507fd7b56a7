"""Parse what ExecuTorch's `executor_runner` prints (examples/portable/executor_runner), for `.pte` on a phone.

It times only `method->execute()` and prints the total over `--num_executions`, first run included:
  I 00:00:00.002 executorch:executor_runner.cpp:150] Resetting threadpool with num threads = 4
  I 00:00:00.512 executorch:executor_runner.cpp:367] Model executed successfully 35 time(s) in 1234.5 ms.
Older builds print `Model executed successfully 10 time(s).` with no time: no timings, an error here.
Errors are `E ...] message` (or `F ...]` from a failed check).
"""
from __future__ import annotations

import re

from .benchmark_model_output import NUMBER, BenchmarkOutputError, BenchmarkReport

_EXECUTED = re.compile(rf"Model executed successfully (\d+) time\(s\) in ({NUMBER}) ms")
_THREADS = re.compile(r"Resetting threadpool (?:with num threads = |to )(\d+)")
_LOG_PREFIX = re.compile(r"^\s*([IWEF]) [\d:.]+ [^\]]*\]\s*")


def parse_executor_runner_output(text: str) -> BenchmarkReport:
    """The mean time per execution (microseconds, first run included) and the threads used."""
    report = BenchmarkReport()
    for line in text.splitlines():
        if match := _EXECUTED.search(line):
            runs, total_ms = int(match.group(1)), float(match.group(2))
            if runs > 0:
                report.inference_avg_us = total_ms * 1000 / runs
        elif match := _THREADS.search(line):
            report.threads = int(match.group(1))
    if report.inference_avg_us is None:
        raise BenchmarkOutputError(first_error(text) or "executor_runner printed no timings")
    return report


def first_error(text: str) -> str | None:
    for line in text.splitlines():
        match = _LOG_PREFIX.match(line)
        if match and match.group(1) in "EF":
            return line[match.end():].strip()
    lowered = [line.strip() for line in text.splitlines() if line.strip()]
    return next((line for line in lowered if re.search(r"error|failed|not found|cannot", line, re.I)), None)
