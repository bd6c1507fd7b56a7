package dev.personseg.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.Test;

public class PreprocessorTest {
    private static final String FLOAT_IO = "\"shape\": [1, 4, 6, 3], \"layout\": \"NHWC\", \"dtype\": \"float32\", \"quantization\": null";

    private static float normalized(int value, int channel, ModelContract c) {
        return (value / 255f - c.mean[channel]) / c.std[channel];
    }

    private static int[] uniform(int width, int height, int rgb) {
        int[] argb = new int[width * height];
        Arrays.fill(argb, 0xff000000 | rgb);
        return argb;
    }

    @Test
    public void writesNormalizedNhwcFloats() {
        ModelContract c = TestContracts.parse();
        ByteBuffer out = ByteBuffer.allocate(c.input.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        new Preprocessor(c).toInputTensor(uniform(12, 8, 0xff0080), 12, 8, out);
        int last = (3 * 6 + 5) * 3; // (y=3, x=5), channel 0
        assertEquals(normalized(255, 0, c), out.getFloat(last * 4), 0f);
        assertEquals(normalized(0, 1, c), out.getFloat((last + 1) * 4), 0f);
        assertEquals(normalized(128, 2, c), out.getFloat((last + 2) * 4), 0f);
    }

    @Test
    public void writesNchwPlanes() {
        ModelContract c = TestContracts.parse(FLOAT_IO, "\"shape\": [1, 3, 4, 6], \"layout\": \"NCHW\", \"dtype\": \"float32\", \"quantization\": null");
        ByteBuffer out = ByteBuffer.allocate(c.input.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        new Preprocessor(c).toInputTensor(uniform(6, 4, 0x00ff00), 6, 4, out);
        for (int channel = 0; channel < 3; channel++) {
            float expected = normalized(channel == 1 ? 255 : 0, channel, c);
            for (int i = 0; i < 24; i++) {
                assertEquals(expected, out.getFloat((channel * 24 + i) * 4), 0f);
            }
        }
    }

    @Test
    public void quantizesRoundingHalfToEvenLikeNumpy() {
        TensorSpec.Quantization q = new TensorSpec.Quantization(0.5f, -3);
        float[] values = {0.25f, 0.75f, -0.25f, 1.25f, -0.75f, 1000f, -1000f};
        int[] expected = {-3, -1, -3, -1, -5, 127, -128}; // round(0.5)=0, round(1.5)=2, round(-0.5)=-0, round(2.5)=2, round(-1.5)=-2
        for (int i = 0; i < values.length; i++) {
            assertEquals("value " + values[i], expected[i], Preprocessor.quantize(values[i], q, TensorSpec.DType.INT8));
        }
        assertEquals(0, Preprocessor.quantize(-1000f, q, TensorSpec.DType.UINT8));
        assertEquals(255, Preprocessor.quantize(1000f, q, TensorSpec.DType.UINT8));
    }

    @Test
    public void writesQuantizedBytes() {
        ModelContract c = TestContracts.parse(FLOAT_IO,
                "\"shape\": [1, 4, 6, 3], \"layout\": \"NHWC\", \"dtype\": \"uint8\", \"quantization\": {\"scale\": 0.02, \"zero_point\": 128}");
        ByteBuffer out = ByteBuffer.allocate(c.input.byteSize());
        new Preprocessor(c).toInputTensor(uniform(6, 4, 0xffffff), 6, 4, out);
        for (int channel = 0; channel < 3; channel++) {
            // 240, 253 and 260 -> clipped to 255: above 127 on purpose, to catch signed-byte mistakes
            int expected = Math.min(255, (int) Math.rint(normalized(255, channel, c) / 0.02f) + 128);
            assertEquals(expected, out.get(channel) & 0xff);
        }
    }

    @Test
    public void refusesMismatchedFramesAndBuffers() {
        Preprocessor pre = new Preprocessor(TestContracts.parse());
        assertThrows(IllegalArgumentException.class, () -> pre.toInputTensor(new int[10], 4, 4, ByteBuffer.allocate(288)));
        assertThrows(IllegalArgumentException.class, () -> pre.toInputTensor(new int[16], 4, 4, ByteBuffer.allocate(100)));
    }
}
