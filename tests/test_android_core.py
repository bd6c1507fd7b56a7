"""The Android demo's plain-Java core against the Python reference, on the JVM.

javac compiles android_demo/core (main + tests) into a tmp dir; JUnit 4 runs its unit tests and
GoldenFixturesTest against fixtures that android_demo/write_golden.py writes from the real exported
TFLite contracts with export/preprocess.py. Perturbed fixtures prove the comparison can fail.
Python (jsonschema) and Java (ContractSchemaTest) validate the same golden contracts against the same
schema file, export/contract.schema.json.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import android_script

from export.contract import SCHEMA_FILE, validate_contract

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "android_demo" / "core" / "src"
JARS = [Path("/usr/share/java/junit4.jar"), Path("/usr/share/java/hamcrest-core.jar")]
UNIT_TESTS = sorted(p.stem for p in (CORE / "test" / "java" / "dev" / "personseg" / "core").glob("*Test.java")
                    if p.stem != "GoldenFixturesTest")
GOLDEN_TEST = "GoldenFixturesTest"


def _missing_java() -> str | None:
    for tool in ("javac", "java"):
        if shutil.which(tool) is None:
            return f"{tool} not found: install a JDK 17 (apt-get install default-jdk-headless; .ci/install does)"
    for jar in JARS:
        if not jar.is_file():
            return f"{jar} not found: apt-get install junit4 libhamcrest-java (.ci/install does)"
    return None


@pytest.fixture(scope="module")
def core_classes(tmp_path_factory) -> Path:
    """The core and its tests compiled as Java 11 (what the Android toolchain consumes)."""
    if reason := _missing_java():
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("core-classes")
    sources = [str(p) for p in sorted(CORE.rglob("*.java"))]
    classpath = ":".join(str(j) for j in JARS)
    done = subprocess.run(["javac", "--release", "11", "-Xlint:all", "-d", str(out), "-cp", classpath,
                           *sources], capture_output=True, text=True)
    assert done.returncode == 0, f"javac failed:\n{done.stdout}{done.stderr}"
    return out


def run_junit(classes: Path, tests: list[str], golden_dir: Path | None = None) -> subprocess.CompletedProcess:
    # the one contract definition, also what Python validates against (ContractSchemaTest reads it)
    props = [f"-Dcontract.schema={SCHEMA_FILE}"] + ([f"-Dgolden.dir={golden_dir}"] if golden_dir else [])
    classpath = ":".join([str(classes), *(str(j) for j in JARS)])
    return subprocess.run(["java", "-Djava.awt.headless=true", *props, "-cp", classpath, "org.junit.runner.JUnitCore",
                           *(f"dev.personseg.core.{t}" for t in tests)], capture_output=True, text=True, timeout=300)


def _load_write_golden():
    return android_script("write_golden", "write_golden")


@pytest.fixture(scope="module")
def int8_io_export(exported, trained_checkpoint, ccp_dir, tmp_path_factory) -> Path:
    """The session's int8 export again with int8 input/output tensors (the exporter reuses its calibration)."""
    from export.api import export_model

    exported("tflite", "int8")  # calibrate once, through the shared fixture
    return export_model(trained_checkpoint, "efficientnet-b0", "tflite", "int8", out_dir=tmp_path_factory.mktemp("io8"),
                        calib_dir=ccp_dir / "train" / "images", calib_count=16, int8_io=True,
                        min_agreement=0, float_ops=0)


@pytest.fixture(scope="module")
def golden(exported, int8_io_export, ccp_dir, tmp_path_factory) -> Path:
    """Fixtures from the real fp32, int8 (float I/O) and int8 (int8 I/O) exports and one real CCP test image."""
    image = sorted((ccp_dir / "test" / "images").glob("*.jpg"))[0]
    out = tmp_path_factory.mktemp("golden") / "cases"
    models = [exported("tflite", "fp32"), exported("tflite", "int8"), int8_io_export]
    names = _load_write_golden()(models, [image], out)
    assert len(names) == 3 * 2 + 3  # three models x (full image, crop) + three synthetic cases
    return out


def test_java_unit_tests_pass(core_classes):
    done = run_junit(core_classes, UNIT_TESTS)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    ran = re.search(r"OK \((\d+) tests\)", done.stdout)
    assert ran and int(ran.group(1)) >= 2 * len(UNIT_TESTS), done.stdout[-2000:]
    assert "ContractSchemaTest" in UNIT_TESTS


def test_java_refuses_what_the_schema_refuses_and_notices_a_schema_change(core_classes, tmp_path):
    """The Java checks read the schema file: a schema that allows another layout fails them."""
    schema = json.loads(SCHEMA_FILE.read_text())
    schema["$defs"]["tensor"]["properties"]["layout"]["enum"].append("nhwc_sideways")
    changed = tmp_path / "contract.schema.json"
    changed.write_text(json.dumps(schema))
    classpath = ":".join([str(core_classes), *(str(j) for j in JARS)])
    done = subprocess.run(["java", f"-Dcontract.schema={changed}", "-cp", classpath, "org.junit.runner.JUnitCore",
                           "dev.personseg.core.ContractSchemaTest"], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "NHWC" in done.stdout, done.stdout[-3000:]


@pytest.mark.slow
def test_java_core_matches_the_python_reference(core_classes, golden):
    done = run_junit(core_classes, [GOLDEN_TEST, "ContractSchemaTest"], golden)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    cases = {p.name: json.loads((p / "case.json").read_text()) for p in golden.iterdir()}
    for name, case in cases.items():  # every case was checked, none skipped
        validate_contract(json.loads((golden / name / "contract.json").read_text()), name)  # Python: same schema
        assert f"golden {name}: contract follows the schema" in done.stdout
        assert f"golden {name}: mask matches" in done.stdout
        assert (f"golden {name}: input tensor matches" in done.stdout) == (case["image"] is not None)
        assert (f"golden {name}: logits match" in done.stdout) == (case["output"] is not None)
    # the fixtures exercise what they claim: int8 I/O from the real exporter, non-trivial masks
    io8 = json.loads(next(golden.glob("*-io8-*-full")).joinpath("contract.json").read_text())
    assert io8["input"]["dtype"] == io8["output"]["dtype"] == "int8"
    assert 0.05 < cases["synthetic-logits"]["person_fraction"] < 0.95
    assert 0.05 < cases["synthetic-uint8-probability"]["person_fraction"] < 0.95


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _nudge_first_float(path: Path, by: float) -> None:
    values = np.fromfile(path, dtype="<f4")
    values[0] += by
    values.tofile(path)


def _flip_one_mask_pixel(path: Path) -> None:
    mask = np.fromfile(path, dtype=np.uint8)
    mask[len(mask) // 2] ^= 1
    mask.tofile(path)


def _real_case(golden: Path, suffix: str) -> Path:
    return next(p for p in sorted(golden.iterdir()) if p.name.endswith(suffix) and not p.name.startswith("synthetic"))


# Each drift must fail the Java tests, naming what broke.
DRIFTS = {
    "contract mean": (lambda g: _edit_json(_real_case(g, "-crop") / "contract.json",
                                           lambda c: c["preprocess"]["mean"].__setitem__(0, c["preprocess"]["mean"][0] + 0.01)),
                      "input tensor"),
    "pixel scale": (lambda g: _edit_json(_real_case(g, "-full") / "contract.json",
                                         lambda c: c["preprocess"].__setitem__("pixel_scale", 256.0)), "input tensor"),
    "tensor off by 2e-5": (lambda g: _nudge_first_float(_real_case(g, "-full") / "input.bin", 2e-5), "input tensor"),
    "input zero point": (lambda g: _edit_json(g / "synthetic-int8-io" / "contract.json",
                                              lambda c: c["input"]["quantization"].__setitem__("zero_point", -13)),
                         "quantized elements differ"),
    "threshold": (lambda g: _edit_json(g / "synthetic-logits" / "contract.json",
                                       lambda c: c["postprocess"].__setitem__("threshold", 0.55)), "mask"),
    "one mask pixel": (lambda g: _flip_one_mask_pixel(_real_case(g, "-crop") / "mask.bin"), "mask: 1 of"),
}


@pytest.mark.slow
@pytest.mark.parametrize("drift", list(DRIFTS))
def test_java_tests_fail_when_python_and_java_drift_apart(core_classes, golden, tmp_path, drift):
    perturb, expected_message = DRIFTS[drift]
    copy = tmp_path / "golden"
    shutil.copytree(golden, copy)
    perturb(copy)
    done = run_junit(core_classes, [GOLDEN_TEST], copy)
    assert done.returncode != 0, f"the Java tests did not notice the drift ({drift}):\n{done.stdout[-2000:]}"
    assert expected_message in done.stdout, done.stdout[-4000:]
