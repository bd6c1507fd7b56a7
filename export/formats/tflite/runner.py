"""The one LiteRT (TFLite) runner on the host: load a .tflite, feed its input, read its output.

Used by the export checks, export.fidelity, seg-bench's tflite backend and foreign-model reader, and
the Android demo's host tools, so loading errors and tensor addressing behave the same everywhere.
Threads stay the caller's choice (None: LiteRT's default); XNNPACK is the interpreter's default
delegate, so every caller gets it. The three phases stay separate because seg-bench times them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from train.errors import UserError


class LiteRTRunner:
    """One interpreter; `input`/`output` are the tensors fed and read (the first of each unless set)."""

    def __init__(self, artifact: str | Path, threads: int | None = None, allocate: bool = True):
        # imported here: ai-edge-litert is optional, and tests swap in a fake Interpreter
        from ai_edge_litert.interpreter import Interpreter

        self.artifact, self.threads = Path(artifact), threads
        try:
            self.interpreter = Interpreter(model_path=str(artifact), num_threads=threads)
            if allocate:  # reading tensor details alone does not need it
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            lines = str(err).strip().splitlines()
            verb = "load" if allocate else "read"  # without allocation, only its tensors were read
            raise UserError(f"LiteRT cannot {verb} {self.artifact.name}: "
                            f"{lines[0] if lines else type(err).__name__}") from None
        self.inputs, self.outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        # None where the model has none: callers that care check the counts (`inputs`, `outputs`)
        self.input, self.output = (self.inputs or [None])[0], (self.outputs or [None])[0]

    def put(self, x: np.ndarray) -> None:
        self.interpreter.set_tensor(self.input["index"], x)

    def invoke(self) -> None:
        self.interpreter.invoke()

    def get(self) -> np.ndarray:
        return self.interpreter.get_tensor(self.output["index"])

    def run(self, x: np.ndarray) -> np.ndarray:
        """The raw output for one input tensor (a copy, safe to keep across runs)."""
        self.put(x)
        self.invoke()
        return np.array(self.get(), copy=True)
