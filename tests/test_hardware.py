"""train/hardware.py names the machine in every result row: two CPUs that differ must not read the same."""
from __future__ import annotations

import pytest

from train import hardware

ZEN4_VM = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 fma avx512f avx512_vnni avx512_bf16\n"


@pytest.fixture
def cpuinfo(tmp_path, monkeypatch):
    def write(text: str) -> None:
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        monkeypatch.setattr(hardware, "CPUINFO", path)
        hardware._cpuinfo_field.cache_clear()
    yield write
    hardware._cpuinfo_field.cache_clear()  # the next test reads this machine again


def test_a_cpu_named_without_a_model_number_gets_its_family_and_model(cpuinfo):
    cpuinfo(ZEN4_VM)
    assert hardware.cpu_model() == "AMD EPYC family 25 model 17"
    zen5 = ZEN4_VM.replace("cpu family\t: 25", "cpu family\t: 26").replace("model\t\t: 17", "model\t\t: 2")
    cpuinfo(zen5)
    assert hardware.cpu_model() == "AMD EPYC family 26 model 2"  # not the Zen 4's name
    assert hardware.cpu_has_native_bf16() and hardware.notable_cpu_flags() == ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"]


def test_a_full_model_name_is_kept_as_the_os_says_it(cpuinfo):
    cpuinfo(ZEN4_VM.replace("model name\t: AMD EPYC", "model name\t: AMD EPYC 9R14 96-Core Processor"))
    assert hardware.cpu_model() == "AMD EPYC 9R14 96-Core Processor"
