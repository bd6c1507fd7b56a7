package dev.personseg.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.ByteOrder;
import org.junit.Test;

public class SegmenterTest {
    @Test
    public void runsPreprocessingModelAndPostprocessingIntoAFrameSizedMask() {
        ModelContract contract = TestContracts.parse();
        // A stand-in model: the person logit is the normalized red channel.
        Segmenter.Model redIsPerson = (input, output) -> {
            assertEquals(ByteOrder.nativeOrder(), input.order());
            assertEquals(0, input.position());
            for (int i = 0; i < 24; i++) {
                output.putFloat(i * 4, input.getFloat(i * 12));
            }
        };
        int width = 12;
        int height = 8;
        int[] frame = new int[width * height];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                frame[y * width + x] = x < 6 ? 0xffff0000 : 0xff000000; // left half red, right half black
            }
        }
        Segmenter.Result result = new Segmenter(contract, redIsPerson).segment(frame, width, height);
        assertEquals(width * height, result.mask.length);
        for (int i = 0; i < frame.length; i++) {
            assertEquals("pixel " + i, i % width < 6, result.mask[i]);
        }
        assertEquals(width * height / 2, result.personPixels());
        assertTrue(result.inferenceMs >= 0 && result.preprocessMs >= 0 && result.postprocessMs >= 0);
    }
}
