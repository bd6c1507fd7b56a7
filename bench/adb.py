"""A thin adb client: list devices, push files, run shell commands, each failure said in one line."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from train.errors import UserError

DEVICE_STATES = {
    "unauthorized": "is unauthorized: unlock it and accept the USB debugging prompt",
    "offline": "is offline: reconnect it or restart adb (adb kill-server)",
    "no permissions": "has no permissions: fix the udev rules for this USB device",
}


@dataclass
class Shell:
    rc: int
    output: str  # stdout and stderr together, as the tool printed them


class Adb:
    def __init__(self, timeout_s: float = 600):
        self.exe = shutil.which("adb")
        self.timeout_s = timeout_s

    def missing(self) -> str | None:
        return None if self.exe else "adb not found on PATH (install Android platform-tools)"

    def _call(self, *args: str) -> Shell:
        try:
            done = subprocess.run([self.exe, *args], capture_output=True, text=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            raise UserError(f"adb {' '.join(args[:3])} gave no answer in {self.timeout_s:.0f} s") from None
        return Shell(done.returncode, (done.stdout + done.stderr).strip())

    def devices(self) -> dict[str, str]:
        """serial -> state ('device' when usable) as `adb devices` lists them."""
        done = self._call("devices")
        if done.rc != 0:
            raise UserError(f"adb devices failed: {_first_line(done.output)}")
        found = {}
        for line in done.output.splitlines():
            if "\t" in line and not line.startswith("*"):
                serial, state = line.split("\t", 1)
                found[serial.strip()] = state.strip()
        return found

    def push(self, serial: str, local: Path, remote: str) -> None:
        done = self._call("-s", serial, "push", str(local), remote)
        if done.rc != 0:
            raise UserError(f"adb push {local.name} to {serial} failed: {_first_line(done.output)}")

    def shell(self, serial: str, command: str) -> Shell:
        return self._call("-s", serial, "shell", command)

    def getprop(self, serial: str, key: str) -> str:
        done = self.shell(serial, f"getprop {key}")
        return done.output.strip() if done.rc == 0 else ""


def state_problem(serial: str, state: str) -> str | None:
    if state == "device":
        return None
    return f"device {serial} {DEVICE_STATES.get(state, f'is {state}')}"


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0].strip() if lines else "no output"
