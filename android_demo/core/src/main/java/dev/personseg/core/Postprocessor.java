package dev.personseg.core;

import java.nio.ByteBuffer;

/**
 * The model's raw output -> person logits -> a person mask, as export/preprocess.py's
 * output_to_logits and logits_to_mask: dequantize, take channel 0, turn probabilities into logits,
 * resize the logits bilinearly to the frame, and compare them with log(t / (1 - t)).
 *
 * <p>Not thread-safe: it reuses its buffers from frame to frame.
 */
public final class Postprocessor {
    private static final float PROB_MIN = (float) 1e-7;
    private static final float PROB_MAX = (float) (1 - 1e-7);

    private final TensorSpec spec;
    private final ModelContract.OutputKind kind;
    private final double logitThreshold;
    private float[] logits;
    private float[] resized;

    public Postprocessor(ModelContract contract) {
        this.spec = contract.output;
        this.kind = contract.outputKind;
        this.logitThreshold = contract.logitThreshold();
    }

    public ByteBuffer allocateOutput() {
        return ByteBuffer.allocateDirect(spec.byteSize()).order(java.nio.ByteOrder.nativeOrder());
    }

    /** Output height x width float32 logits of channel 0, row-major (reused between calls). */
    public float[] logits(ByteBuffer raw) {
        if (raw.capacity() < spec.byteSize()) {
            throw new IllegalArgumentException("output buffer holds " + raw.capacity() + " bytes, the model gives " + spec.byteSize());
        }
        int h = spec.height();
        int w = spec.width();
        if (logits == null) {
            logits = new float[h * w];
        }
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                float v = read(raw, spec.index(y, x, 0));
                if (kind == ModelContract.OutputKind.PROBABILITY) {
                    float p = Math.min(Math.max(v, PROB_MIN), PROB_MAX);
                    v = (float) Math.log(p / (1f - p));
                }
                logits[y * w + x] = v;
            }
        }
        return logits;
    }

    private float read(ByteBuffer raw, int index) {
        TensorSpec.Quantization quant = spec.quantization;
        if (quant == null) {
            return raw.getFloat(index * 4);
        }
        int q = spec.dtype == TensorSpec.DType.UINT8 ? raw.get(index) & 0xff : raw.get(index);
        return ((float) q - quant.zeroPoint) * quant.scale;
    }

    /**
     * Person mask of {@code height} x {@code width} from output-sized logits: resized bilinearly on
     * the logits when the size differs, then thresholded. Writes into {@code dst} when it is big enough.
     */
    public boolean[] mask(float[] outputLogits, int height, int width, boolean[] dst) {
        float[] source = outputLogits;
        if (height != spec.height() || width != spec.width()) {
            resized = BilinearResize.resize(outputLogits, spec.height(), spec.width(), 1, height, width, resized);
            source = resized;
        }
        int size = height * width;
        boolean[] out = dst != null && dst.length >= size ? dst : new boolean[size];
        for (int i = 0; i < size; i++) {
            out[i] = source[i] > logitThreshold; // float widened to double, as numpy compares float32 with a float64
        }
        return out;
    }
}
