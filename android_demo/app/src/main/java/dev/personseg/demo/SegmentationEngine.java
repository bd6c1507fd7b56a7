package dev.personseg.demo;

import android.content.Context;
import android.content.res.AssetFileDescriptor;
import dev.personseg.core.ContractException;
import dev.personseg.core.ModelContract;
import dev.personseg.core.Segmenter;
import dev.personseg.core.TensorSpec;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;
import org.tensorflow.lite.gpu.CompatibilityList;
import org.tensorflow.lite.gpu.GpuDelegate;

/**
 * The LiteRT interpreter for assets/model.tflite behind the core's {@link Segmenter}: on the CPU
 * (XNNPACK, N threads) or on the GPU delegate, falling back to the CPU with a reason when the
 * delegate is unavailable or rejects the model. Everything model-specific comes from assets/model.json.
 *
 * <p>Create, use and close it on one thread (the GPU delegate requires it).
 */
final class SegmentationEngine implements AutoCloseable {
    static final String MODEL_ASSET = "model.tflite";
    static final String CONTRACT_ASSET = "model.json";

    enum Accelerator { CPU, GPU }

    private final Interpreter interpreter;
    private final GpuDelegate gpuDelegate; // null on the CPU
    private final Segmenter segmenter;
    /** "GPU delegate" or "CPU XNNPACK, 4 threads". */
    final String runningOn;
    /** Why the GPU was not used although it was asked for; null otherwise. */
    final String fallbackReason;

    private SegmentationEngine(ModelContract contract, Interpreter interpreter, GpuDelegate gpuDelegate,
                               String runningOn, String fallbackReason) {
        this.interpreter = interpreter;
        this.gpuDelegate = gpuDelegate;
        this.segmenter = new Segmenter(contract, interpreter::run);
        this.runningOn = runningOn;
        this.fallbackReason = fallbackReason;
    }

    /** Loads the model and contract from the assets; throws with a message fit for the screen. */
    static SegmentationEngine create(Context context, Accelerator wanted, int threads) throws IOException {
        ModelContract contract;
        MappedByteBuffer model;
        try {
            contract = ModelContract.parse(readAsset(context, CONTRACT_ASSET)).requireTfliteNhwc();
            model = mapAsset(context, MODEL_ASSET);
            contract.verifyArtifact(model); // a damaged or swapped model.tflite is refused before it is loaded
        } catch (FileNotFoundException e) {
            throw new IOException("no model in the app's assets: run android_demo/install_model.py, then rebuild", e);
        }
        String fallback = null;
        if (wanted == Accelerator.GPU) {
            try (CompatibilityList compatibility = new CompatibilityList()) {
                if (!compatibility.isDelegateSupportedOnThisDevice()) {
                    fallback = "the GPU delegate does not support this device";
                } else {
                    GpuDelegate delegate = new GpuDelegate(compatibility.getBestOptionsForThisDevice());
                    Interpreter gpu = null;
                    try {
                        gpu = new Interpreter(model, new Interpreter.Options().addDelegate(delegate));
                        checkTensors(contract, gpu);
                        SegmentationEngine engine = new SegmentationEngine(contract, gpu, delegate, "GPU delegate", null);
                        engine.warmUp(); // some drivers only fail when the first kernels compile
                        return engine;
                    } catch (RuntimeException e) { // IllegalArgumentException: "Failed to apply delegate", etc.
                        if (gpu != null) {
                            gpu.close();
                        }
                        delegate.close();
                        if (e instanceof ContractException) {
                            throw e;
                        }
                        fallback = "the GPU delegate rejected the model: " + firstLine(e.getMessage());
                    }
                }
            }
        }
        Interpreter.Options options = new Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true);
        Interpreter cpu = new Interpreter(model, options);
        try {
            checkTensors(contract, cpu);
        } catch (RuntimeException e) {
            cpu.close();
            throw e;
        }
        return new SegmentationEngine(contract, cpu, null, "CPU XNNPACK, " + threads + " thread" + (threads == 1 ? "" : "s"), fallback);
    }

    ModelContract contract() {
        return segmenter.contract();
    }

    Segmenter.Result segment(int[] argb, int width, int height) {
        return segmenter.segment(argb, width, height);
    }

    private void warmUp() {
        TensorSpec in = contract().input;
        segment(new int[in.width() * in.height()], in.width(), in.height());
    }

    @Override
    public void close() {
        interpreter.close();
        if (gpuDelegate != null) {
            gpuDelegate.close();
        }
    }

    /** The model must be the one the contract describes: same shapes, element types and quantization. */
    private static void checkTensors(ModelContract contract, Interpreter interpreter) {
        if (interpreter.getInputTensorCount() != 1 || interpreter.getOutputTensorCount() != 1) {
            throw new ContractException("the model has " + interpreter.getInputTensorCount() + " inputs and "
                    + interpreter.getOutputTensorCount() + " outputs; the app expects one of each");
        }
        checkTensor("input", contract.input, interpreter.getInputTensor(0));
        checkTensor("output", contract.output, interpreter.getOutputTensor(0));
    }

    private static void checkTensor(String what, TensorSpec spec, Tensor tensor) {
        DataType expected = spec.dtype == TensorSpec.DType.FLOAT32 ? DataType.FLOAT32
                : spec.dtype == TensorSpec.DType.INT8 ? DataType.INT8 : DataType.UINT8;
        if (!Arrays.equals(spec.shape, tensor.shape()) || tensor.dataType() != expected) {
            throw new ContractException("model.json does not describe model.tflite: " + what + " is "
                    + Arrays.toString(tensor.shape()) + " " + tensor.dataType() + ", the contract says "
                    + Arrays.toString(spec.shape) + " " + expected + " (re-run install_model.py)");
        }
        if (spec.quantization != null) {
            Tensor.QuantizationParams q = tensor.quantizationParams();
            if (q.getZeroPoint() != spec.quantization.zeroPoint
                    || Math.abs(q.getScale() - spec.quantization.scale) > 1e-6 * spec.quantization.scale) {
                throw new ContractException("model.json does not describe model.tflite: " + what + " quantization is ("
                        + q.getScale() + ", " + q.getZeroPoint() + "), the contract says (" + spec.quantization.scale
                        + ", " + spec.quantization.zeroPoint + ")");
            }
        }
    }

    private static String readAsset(Context context, String name) throws IOException {
        try (InputStream in = context.getAssets().open(name)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] chunk = new byte[8192];
            for (int n; (n = in.read(chunk)) > 0; ) {
                out.write(chunk, 0, n);
            }
            return new String(out.toByteArray(), StandardCharsets.UTF_8);
        }
    }

    private static MappedByteBuffer mapAsset(Context context, String name) throws IOException {
        try (AssetFileDescriptor fd = context.getAssets().openFd(name);
             FileInputStream in = new FileInputStream(fd.getFileDescriptor())) {
            return in.getChannel().map(FileChannel.MapMode.READ_ONLY, fd.getStartOffset(), fd.getDeclaredLength());
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "no reason given";
        }
        int end = message.indexOf('\n');
        return end < 0 ? message : message.substring(0, end);
    }
}
