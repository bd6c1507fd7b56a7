package dev.personseg.core;

/**
 * Bilinear resize with half-pixel centres and no antialiasing, operation for operation as
 * export/preprocess.py's resize_bilinear does it in numpy float32, so the results are bit-identical:
 * sampling positions in double, weights rounded to float, then float multiply-adds in numpy's order.
 */
public final class BilinearResize {
    private BilinearResize() {
    }

    /** Sampling of one axis: source indices lo/hi and the float32 weight of hi. */
    static final class Axis {
        final int[] lo;
        final int[] hi;
        final float[] frac;

        Axis(int sizeIn, int sizeOut) {
            lo = new int[sizeOut];
            hi = new int[sizeOut];
            frac = new float[sizeOut];
            double scale = (double) sizeIn / sizeOut;
            for (int i = 0; i < sizeOut; i++) {
                double pos = (i + 0.5) * scale - 0.5;
                pos = Math.min(Math.max(pos, 0), sizeIn - 1);
                int low = (int) Math.floor(pos);
                lo[i] = low;
                hi[i] = Math.min(low + 1, sizeIn - 1);
                frac[i] = (float) (pos - low);
            }
        }
    }

    /**
     * Resizes an interleaved HxWxC float image into {@code dst} (outH*outW*C floats, interleaved).
     * Returns {@code dst}, or a new array when it is null or too small.
     */
    public static float[] resize(float[] src, int inH, int inW, int channels, int outH, int outW, float[] dst) {
        if (src.length < inH * inW * channels) {
            throw new IllegalArgumentException("source holds " + src.length + " floats, not " + inH + "x" + inW + "x" + channels);
        }
        int size = outH * outW * channels;
        float[] out = dst != null && dst.length >= size ? dst : new float[size];
        Axis ys = new Axis(inH, outH);
        Axis xs = new Axis(inW, outW);
        int rowIn = inW * channels;
        for (int y = 0; y < outH; y++) {
            int r0 = ys.lo[y] * rowIn;
            int r1 = ys.hi[y] * rowIn;
            float fy = ys.frac[y];
            float gy = 1f - fy;
            for (int x = 0; x < outW; x++) {
                int c0 = xs.lo[x] * channels;
                int c1 = xs.hi[x] * channels;
                float fx = xs.frac[x];
                float gx = 1f - fx;
                int o = (y * outW + x) * channels;
                for (int c = 0; c < channels; c++) {
                    float top = src[r0 + c0 + c] * gx + src[r0 + c1 + c] * fx;
                    float bottom = src[r1 + c0 + c] * gx + src[r1 + c1 + c] * fx;
                    out[o + c] = top * gy + bottom * fy;
                }
            }
        }
        return out;
    }
}
