"""Parse what TFLite's `benchmark_model` prints, in every format it has used over the years.

Accepted, with or without an `INFO: ` prefix, numbers plain or in e-notation (microseconds unless said):
  count=50 first=.. curr=.. min=.. max=.. avg=.. std=.. [p5=.. median=.. p95=..]  (warm-up line, then timed line)
  count=1 curr=..   (every run took the same time: the tool prints only that)
  Inference timings in us: Init: .., First inference: .., Warmup (avg): .., Inference (avg): ..
  Average inference timings in us: Warmup: .., Init: .., Inference: ..   (oldest; also "no stats: ..")
  Initialized session in 161.2ms.
  Memory footprint delta from the start of the tool (MB): init=.. overall=..
  Peak memory footprint (MB): init=.. overall=..   (older name of the same delta)
  Overall peak memory footprint (MB) via periodic monitoring: ..
"""
from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PREFIX = re.compile(r"^\s*(?:INFO|WARNING|VERBOSE)\s*:\s*")
_COUNT_LINE = re.compile(r"\bcount=\d+\s+(?:first|curr)=")
_KEY_EQ = re.compile(rf"(\w+)=({NUMBER})")
_KEY_COLON = re.compile(rf"([A-Za-z][A-Za-z ()]*?)\s*:\s*({NUMBER})")
_SESSION = re.compile(rf"Initialized session in ({NUMBER})\s*ms")
_THREADS = re.compile(r"^(?:#threads used for CPU inference|Num threads)\s*:\s*\[(-?\d+)\]", re.I)
_PERIODIC_PEAK = re.compile(rf"peak memory footprint \(MB\) via periodic monitoring:\s*({NUMBER})", re.I)
_ERROR = re.compile(r"^\s*(?:ERROR\s*:\s*)?(.*\b(?:error|failed|fail|unsupported|didn't find|not found|cannot)\b.*)$", re.I)


class BenchmarkOutputError(ValueError):
    """The output holds no timings: the run failed; the message is the tool's own first error line."""


@dataclass
class RunStats:
    count: int
    first_us: float
    min_us: float | None = None
    max_us: float | None = None
    avg_us: float | None = None
    std_us: float | None = None
    median_us: float | None = None
    p5_us: float | None = None
    p95_us: float | None = None


@dataclass
class BenchmarkReport:
    warmup: RunStats | None = None
    timed: RunStats | None = None
    init_us: float | None = None
    first_us: float | None = None
    warmup_avg_us: float | None = None
    inference_avg_us: float | None = None
    memory_init_mb: float | None = None  # footprint rise from the tool's start, after init
    memory_overall_mb: float | None = None  # ... and at the end
    memory_peak_mb: float | None = None  # periodic-monitoring peak
    threads: int | None = None  # as the tool reports them (-1: its default)

    @property
    def mean_us(self) -> float | None:
        if self.timed is not None and self.timed.avg_us is not None:
            return self.timed.avg_us
        return self.inference_avg_us


def _strip(line: str) -> str:
    return _PREFIX.sub("", line).strip()


def _run_stats(line: str) -> RunStats:
    values = {k: float(v) for k, v in _KEY_EQ.findall(line)}
    if "first" not in values:  # all runs the same
        same = values["curr"]
        values.update(first=same, min=same, max=same, avg=same, std=0.0)
    return RunStats(count=int(values["count"]), first_us=values["first"], min_us=values.get("min"),
                    max_us=values.get("max"), avg_us=values.get("avg"), std_us=values.get("std"),
                    median_us=values.get("median", values.get("p50")), p5_us=values.get("p5"), p95_us=values.get("p95"))


def _summary(line: str, report: BenchmarkReport) -> None:
    """`Inference timings in us: Init: .., First inference: ..` and the oldest `Average inference timings` line."""
    for key, value in _KEY_COLON.findall(re.split(r"in us\s*:", line, maxsplit=1, flags=re.I)[1]):
        key, value = key.strip().lower(), float(value)
        if key == "init":
            report.init_us = value
        elif key == "first inference":
            report.first_us = value
        elif key.startswith("warmup"):
            report.warmup_avg_us = value
        elif key.startswith("inference") or key == "no stats":
            report.inference_avg_us = value


def parse_benchmark_output(text: str) -> BenchmarkReport:
    report = BenchmarkReport()
    count_lines: list[RunStats] = []
    for raw in text.splitlines():
        line = _strip(raw)
        if _COUNT_LINE.search(line):
            count_lines.append(_run_stats(line))
        elif "inference timings in us" in line.lower():
            _summary(line, report)
        elif match := _SESSION.search(line):
            report.init_us = report.init_us if report.init_us is not None else float(match.group(1)) * 1000
        elif match := _THREADS.match(line):
            report.threads = int(match.group(1))
        elif match := _PERIODIC_PEAK.search(line):
            report.memory_peak_mb = float(match.group(1))
        elif "memory footprint" in line.lower() and "init=" in line:
            values = {k: float(v) for k, v in _KEY_EQ.findall(line)}
            report.memory_init_mb, report.memory_overall_mb = values.get("init"), values.get("overall")
    if count_lines:
        report.timed = count_lines[-1]
        report.warmup = count_lines[-2] if len(count_lines) > 1 else None
    if report.mean_us is None:
        raise BenchmarkOutputError(first_error(text) or "benchmark_model printed no timings")
    if report.first_us is None and count_lines:
        report.first_us = count_lines[0].first_us
    return report


def first_error(text: str) -> str | None:
    """The tool's first error line (ERROR: prefix, or a line saying something failed)."""
    lines = [_strip(line) for line in text.splitlines()]
    for line in lines:
        if re.match(r"^\s*ERROR\s*:", line, re.I) or line.lower().startswith("error"):
            return re.sub(r"^\s*ERROR\s*:\s*", "", line, flags=re.I).strip()
    for line in lines:
        if _ERROR.match(line):
            return line
    return None
