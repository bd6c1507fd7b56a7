package dev.personseg.core;

import java.util.Arrays;

/** One model input or output as the contract describes it: shape, layout, element type, quantization. */
public final class TensorSpec {

    /** Memory layout of a 4-D image tensor. */
    public enum Layout { NHWC, NCHW }

    /** Element types the demo can feed and read (float16 I/O is not produced by the exporter for TFLite). */
    public enum DType {
        FLOAT32(4, 0, 0), INT8(1, -128, 127), UINT8(1, 0, 255);

        public final int bytes;
        public final int min;
        public final int max;

        DType(int bytes, int min, int max) {
            this.bytes = bytes;
            this.min = min;
            this.max = max;
        }

        public boolean isQuantized() {
            return this != FLOAT32;
        }
    }

    /** real = scale * (q - zeroPoint). */
    public static final class Quantization {
        public final float scale;
        public final int zeroPoint;

        public Quantization(float scale, int zeroPoint) {
            this.scale = scale;
            this.zeroPoint = zeroPoint;
        }
    }

    public final String name;
    public final int[] shape;
    public final Layout layout;
    public final DType dtype;
    /** Null for float tensors. */
    public final Quantization quantization;

    public TensorSpec(String name, int[] shape, Layout layout, DType dtype, Quantization quantization) {
        if (shape.length != 4 || shape[0] != 1) {
            throw new ContractException("tensor " + name + " must be 4-D with batch 1, got " + Arrays.toString(shape));
        }
        for (int dim : shape) {
            if (dim < 1) {
                throw new ContractException("tensor " + name + " has a non-positive dimension: " + Arrays.toString(shape));
            }
        }
        if (dtype.isQuantized() != (quantization != null)) {
            throw new ContractException("tensor " + name + " is " + dtype.name().toLowerCase()
                    + (quantization == null ? " but has no quantization" : " but has quantization"));
        }
        if (quantization != null && !(quantization.scale > 0 && Float.isFinite(quantization.scale))) {
            throw new ContractException("tensor " + name + " has a quantization scale that is not positive");
        }
        this.name = name;
        this.shape = shape.clone();
        this.layout = layout;
        this.dtype = dtype;
        this.quantization = quantization;
    }

    public int height() {
        return layout == Layout.NHWC ? shape[1] : shape[2];
    }

    public int width() {
        return layout == Layout.NHWC ? shape[2] : shape[3];
    }

    public int channels() {
        return layout == Layout.NHWC ? shape[3] : shape[1];
    }

    public int elementCount() {
        return shape[0] * shape[1] * shape[2] * shape[3];
    }

    public int byteSize() {
        return elementCount() * dtype.bytes;
    }

    /** Flat index of (y, x, c) in this layout (batch 0). */
    public int index(int y, int x, int c) {
        return layout == Layout.NHWC
                ? (y * width() + x) * channels() + c
                : (c * height() + y) * width() + x;
    }
}
