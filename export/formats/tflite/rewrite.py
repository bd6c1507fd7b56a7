"""Reading and small rewrites of .tflite FlatBuffers (TensorFlow's object API) where no converter does the job."""
from __future__ import annotations

from ...import_order import before_tensorflow


def fix_max_pool_padding(model_bytes: bytes) -> bytes:
    """Rewrite onnx2tf's max-pool padding (PADV2 with -FLT_MAX before MAX_POOL_2D) for int8.

    The pad value becomes a 0-D tensor, as the MLIR quantizer requires ("operand 2 is 0-D"), and
    when the padded tensor comes out of a ReLU it becomes 0 - the same result for a max-pool -
    because -FLT_MAX would stretch the int8 range of everything around it to ~1e36 per step.
    """
    before_tensorflow()
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema

    model = read_model(model_bytes)
    builtin = [max(code.builtinCode, code.deprecatedBuiltinCode) for code in model.operatorCodes]
    relu = (schema.ActivationFunctionType.RELU, schema.ActivationFunctionType.RELU6)
    changed = False
    for graph in model.subgraphs:
        producer = {out: op for op in graph.operators for out in op.outputs}
        for op in graph.operators:
            if builtin[op.opcodeIndex] != schema.BuiltinOperator.PADV2 or len(op.inputs) < 3:
                continue
            value = graph.tensors[op.inputs[2]]
            if value.shape is not None and list(value.shape) == [1]:
                value.shape, value.shapeSignature, changed = [], None, True
            source = producer.get(op.inputs[0])
            fused = getattr(getattr(source, "builtinOptions", None), "fusedActivationFunction", None)
            after_relu = source is not None and (fused in relu or builtin[source.opcodeIndex] in
                                                 (schema.BuiltinOperator.RELU, schema.BuiltinOperator.RELU6))
            data = model.buffers[value.buffer].data
            if after_relu and data is not None and np.asarray(data, np.uint8).view(np.float32)[0] < 0:
                model.buffers[value.buffer].data = np.zeros(1, np.float32).view(np.uint8)
                changed = True
    return write_model(model) if changed else model_bytes


def float16_weights(float32_model: bytes) -> bytes:
    """Store every float32 constant as float16 behind a DEQUANTIZE op; activations and I/O stay float32."""
    before_tensorflow()
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema

    model = read_model(float32_model)
    dequantize = _operator_code(model, schema.BuiltinOperator.DEQUANTIZE, version=3, schema=schema)
    for graph in model.subgraphs:
        consumed = sorted({i for op in graph.operators for i in (op.inputs if op.inputs is not None else []) if i >= 0})
        unpack = []
        for index in consumed:
            tensor, buffer = graph.tensors[index], model.buffers[graph.tensors[index].buffer]
            if tensor.type != schema.TensorType.FLOAT32 or buffer.data is None or len(buffer.data) == 0:
                continue
            values = np.asarray(buffer.data, dtype=np.uint8).view(np.float32)
            if np.abs(values).max() > np.finfo(np.float16).max:
                continue  # e.g. max-pool padding at -FLT_MAX: keep float32 rather than turn it into inf
            half = schema.TensorT()
            half.shape, half.type, half.name = tensor.shape, schema.TensorType.FLOAT16, _name(tensor.name) + "_fp16"
            half.buffer = _add_buffer(model, values.astype(np.float16).view(np.uint8), schema)
            graph.tensors.append(half)
            tensor.buffer = _add_buffer(model, None, schema)  # now computed at run time by DEQUANTIZE
            op = schema.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = dequantize, [len(graph.tensors) - 1], [index]
            unpack.append(op)
        graph.operators = unpack + list(graph.operators)
    referenced = {t.buffer for graph in model.subgraphs for t in graph.tensors}
    for i, buffer in enumerate(model.buffers):
        if i not in referenced:
            buffer.data = None  # drop the float32 copies
    return write_model(model)


def inline_buffers(model_bytes: bytes) -> bytes:
    """Every constant inside the FlatBuffer. ai-edge-quantizer stores them after it, by file offset (TFLite's layout
    for models over 2 GB), where a rewrite of the FlatBuffer (MediaPipe's metadata writer) would cut them off."""
    import numpy as np

    model = read_model(model_bytes)
    outside = [b for b in model.buffers if b.offset > 1]  # TFLite's schema: offset > 1 is data after the FlatBuffer
    if not outside:
        return model_bytes
    for buffer in outside:
        buffer.data = np.frombuffer(model_bytes, np.uint8, buffer.size, buffer.offset)
        buffer.offset = buffer.size = 0
    return write_model(model)


def read_model(model_bytes: bytes):
    """The FlatBuffer as TensorFlow's mutable object tree (schema_py_generated.ModelT)."""
    before_tensorflow()
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))


def write_model(model) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def op_outputs_in_order(model_bytes: bytes) -> list[str]:
    """The first output tensor of every op in execution order: the names selective quantization takes."""
    graph = read_model(model_bytes).subgraphs[0]
    return [_name(graph.tensors[op.outputs[0]].name) for op in graph.operators]


def _operator_code(model, builtin: int, version: int, schema) -> int:
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _add_buffer(model, data, schema) -> int:
    buffer = schema.BufferT()
    buffer.data = data  # numpy uint8: packed as one vector, fast
    model.buffers.append(buffer)
    return len(model.buffers) - 1


def _name(name) -> str:
    return name.decode() if isinstance(name, bytes) else str(name or "")
