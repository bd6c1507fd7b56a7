"""Run inside the MediaPipe metadata writer's environment (export/converter_env.py), never in the main one:
MediaPipe's image_segmenter writer and its MetadataDisplayer, for export/formats/tflite/metadata.py.

    ENV/bin/python -m export.formats.tflite.metadata_writer write IN OUT SPEC_JSON
    ENV/bin/python -m export.formats.tflite.metadata_writer read IN   # the displayer's JSON and the packed files

Each command prints its report as one JSON line.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _write(source: str, out: str, spec_json: str) -> dict:
    from mediapipe.tasks.python.metadata.metadata_writers import image_segmenter, metadata_writer

    spec = json.loads(spec_json)
    writer = image_segmenter.MetadataWriter.create(
        bytearray(Path(source).read_bytes()), spec["mean"], spec["std"], metadata_writer.Labels().add(spec["labels"]),
        image_segmenter.Activation[spec["activation"]])
    model, _ = writer.populate()
    Path(out).write_bytes(model)
    return {"bytes": len(model)}


def _read(path: str) -> dict:
    from mediapipe.tasks.python.metadata import metadata
    from mediapipe.tasks.python.metadata.metadata_writers import image_segmenter

    displayer = metadata.MetadataDisplayer.with_model_file(path)
    files = {name: displayer.get_associated_file_buffer(name).decode()
             for name in displayer.get_packed_associated_file_list()}
    return {"metadata": json.loads(image_segmenter.convert_to_json(displayer.get_metadata_buffer())), "files": files}


def main(argv: list[str] | None = None) -> int:
    """In the writer's environment: one command, its report as one JSON line."""
    # MediaPipe opens files through TensorFlow when it imports; the main environment's TensorFlow wants numpy 2
    sys.modules["tensorflow"] = None
    command, *args = argv if argv is not None else sys.argv[1:]
    print(json.dumps({"write": _write, "read": _read}[command](*args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
