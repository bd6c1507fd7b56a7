package dev.personseg.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.Test;

public class PostprocessorTest {
    private static final String OUTPUT = "\"shape\": [1, 4, 6, 1], \"layout\": \"NHWC\", \"dtype\": \"float32\", \"quantization\": null";

    @Test
    public void takesChannelZeroOfAFloatOutput() {
        ModelContract c = TestContracts.parse(OUTPUT, "\"shape\": [1, 4, 6, 2], \"layout\": \"NHWC\", \"dtype\": \"float32\", \"quantization\": null");
        ByteBuffer raw = ByteBuffer.allocate(c.output.byteSize()).order(ByteOrder.nativeOrder());
        for (int i = 0; i < 24; i++) {
            raw.putFloat(i * 8, i);       // channel 0
            raw.putFloat(i * 8 + 4, -99);  // channel 1
        }
        float[] logits = new Postprocessor(c).logits(raw);
        for (int i = 0; i < 24; i++) {
            assertEquals(i, logits[i], 0f);
        }
    }

    @Test
    public void dequantizesInt8() {
        ModelContract c = TestContracts.parse(OUTPUT,
                "\"shape\": [1, 1, 4, 6], \"layout\": \"NCHW\", \"dtype\": \"int8\", \"quantization\": {\"scale\": 0.25, \"zero_point\": -4}");
        ByteBuffer raw = ByteBuffer.allocate(24);
        raw.put(0, (byte) -128).put(1, (byte) -4).put(2, (byte) 127);
        float[] logits = new Postprocessor(c).logits(raw);
        assertArrayEquals(new float[] {-31f, 0f, 32.75f}, new float[] {logits[0], logits[1], logits[2]}, 0f);
    }

    @Test
    public void turnsClippedProbabilitiesIntoLogits() {
        ModelContract c = TestContracts.parse(OUTPUT,
                "\"shape\": [1, 4, 6, 1], \"layout\": \"NHWC\", \"dtype\": \"uint8\", \"quantization\": {\"scale\": 0.00392156862745098, \"zero_point\": 0}",
                "\"kind\": \"logits\"", "\"kind\": \"probability\"");
        ByteBuffer raw = ByteBuffer.allocate(24);
        raw.put(0, (byte) 0).put(1, (byte) 255).put(2, (byte) 51);
        float[] logits = new Postprocessor(c).logits(raw);
        // p = 0 and p = 1 are clipped to float32(1e-7) and float32(1 - 1e-7) as numpy does, not +-inf
        float low = (float) 1e-7;
        float high = (float) (1 - 1e-7);
        assertEquals((float) Math.log(low / (1f - low)), logits[0], 0f);
        assertEquals((float) Math.log(high / (1f - high)), logits[1], 0f);
        assertEquals(Math.log(0.2 / 0.8), logits[2], 1e-5);
    }

    @Test
    public void thresholdsAtTheContractsProbability() {
        ModelContract c = TestContracts.parse("\"threshold\": 0.5", "\"threshold\": 0.25");
        float cut = (float) Math.log(1 / 3.0);
        float[] logits = new float[24];
        logits[0] = Math.nextUp(cut);
        logits[1] = Math.nextDown(cut);
        boolean[] mask = new Postprocessor(c).mask(logits, 4, 6, null);
        assertEquals(true, mask[0]);
        assertEquals(false, mask[1]);
    }

    @Test
    public void resizesLogitsBeforeThresholding() {
        ModelContract c = TestContracts.parse();
        float[] logits = new float[24];
        for (int i = 0; i < 24; i++) {
            logits[i] = (i % 6) - 2.6f; // columns -2.6 .. 2.4: the edge falls between columns 2 and 3
        }
        boolean[] mask = new Postprocessor(c).mask(logits, 2, 12, null);
        float[] resized = BilinearResize.resize(logits, 4, 6, 1, 2, 12, null);
        for (int i = 0; i < 24; i++) {
            assertEquals("pixel " + i, resized[i] > 0, mask[i]);
        }
        // column 5 samples source column 2.25 (-0.6 * 0.75 + 0.4 * 0.25 < 0), column 6 samples 2.75 (> 0)
        assertEquals(false, mask[5]);
        assertEquals(true, mask[6]);
    }
}
