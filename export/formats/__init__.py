"""One module or package per format, each registered in export/registry.py: onnx.py, coreml.py, and the packages
tflite/ (onnx2tf and everything a .tflite goes through), litert_torch/ (the other route to .tflite) and
executorch/, each holding its format's helpers beside its entry (its __init__.py).
"""
