"""Export: turn a seg-train checkpoint into ONNX, TFLite and Core ML artifacts with their contracts."""
