package dev.personseg.core;

import java.nio.ByteBuffer;

/**
 * An ARGB frame (Android's Bitmap.getPixels layout) -> the exact input tensor the model takes,
 * as export/preprocess.py's to_input_tensor: bilinear resize to the input size, /pixel_scale,
 * (x - mean) / std, the contract's layout, and quantization (round half to even) for int8/uint8 inputs.
 *
 * <p>Not thread-safe: it reuses its float buffers from frame to frame.
 */
public final class Preprocessor {
    private final TensorSpec spec;
    private final float[] mean;
    private final float[] std;
    private final float pixelScale;
    private float[] rgb = new float[0];
    private float[] resized;

    public Preprocessor(ModelContract contract) {
        this.spec = contract.input;
        this.mean = contract.mean.clone();
        this.std = contract.std.clone();
        this.pixelScale = contract.pixelScale;
    }

    /** A buffer of the input tensor's size; give it the byte order the runtime expects (native for TFLite). */
    public ByteBuffer allocateInput() {
        return ByteBuffer.allocateDirect(spec.byteSize()).order(java.nio.ByteOrder.nativeOrder());
    }

    /** Writes the input tensor for {@code argb} (width*height pixels, row-major) into {@code out} from index 0. */
    public void toInputTensor(int[] argb, int width, int height, ByteBuffer out) {
        if (width < 1 || height < 1 || argb.length < width * height) {
            throw new IllegalArgumentException("frame of " + argb.length + " pixels is not " + width + "x" + height);
        }
        if (out.capacity() < spec.byteSize()) {
            throw new IllegalArgumentException("input buffer holds " + out.capacity() + " bytes, the model takes " + spec.byteSize());
        }
        int pixels = width * height;
        if (rgb.length < pixels * 3) {
            rgb = new float[pixels * 3];
        }
        for (int i = 0; i < pixels; i++) {
            int p = argb[i];
            rgb[i * 3] = (p >> 16) & 0xff;
            rgb[i * 3 + 1] = (p >> 8) & 0xff;
            rgb[i * 3 + 2] = p & 0xff;
        }
        int outH = spec.height();
        int outW = spec.width();
        resized = BilinearResize.resize(rgb, height, width, 3, outH, outW, resized);
        for (int y = 0; y < outH; y++) {
            for (int x = 0; x < outW; x++) {
                for (int c = 0; c < 3; c++) {
                    float v = (resized[(y * outW + x) * 3 + c] / pixelScale - mean[c]) / std[c];
                    write(out, spec.index(y, x, c), v);
                }
            }
        }
    }

    private void write(ByteBuffer out, int index, float value) {
        if (spec.quantization == null) {
            out.putFloat(index * 4, value);
            return;
        }
        out.put(index, (byte) quantize(value, spec.quantization, spec.dtype));
    }

    /** np.clip(np.round(x / scale) + zero_point, min, max) in float32, as the Python reference does it. */
    static int quantize(float value, TensorSpec.Quantization quant, TensorSpec.DType dtype) {
        float q = (float) Math.rint(value / quant.scale) + quant.zeroPoint;
        if (q != q) { // NaN: numpy's cast is undefined too; pick the zero point
            return quant.zeroPoint;
        }
        return (int) Math.min(Math.max(q, dtype.min), dtype.max);
    }
}
