package dev.personseg.core;

import static org.junit.Assert.assertArrayEquals;

import org.junit.Test;

public class BilinearResizeTest {
    @Test
    public void sameSizeIsIdentity() {
        float[] src = {1.5f, -2f, 3.25f, 7f, 0f, 9f};
        assertArrayEquals(src, BilinearResize.resize(src, 2, 3, 1, 2, 3, null), 0f);
    }

    @Test
    public void upsamplesWithHalfPixelCentresClampedAtTheEdges() {
        // out x -> source position (x + 0.5) * 0.5 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
        assertArrayEquals(new float[] {0f, 2.5f, 7.5f, 10f}, BilinearResize.resize(new float[] {0f, 10f}, 1, 2, 1, 1, 4, null), 0f);
    }

    @Test
    public void downsamplesWithoutAntialiasing() {
        // source positions 0.5 and 2.5: the mean of each pair, nothing from the neighbours
        float[] row = {0f, 2f, 10f, 30f};
        assertArrayEquals(new float[] {1f, 20f}, BilinearResize.resize(row, 1, 4, 1, 1, 2, null), 0f);
    }

    @Test
    public void resizesBothAxesAndKeepsChannelsApart() {
        // 2x2 image, two channels: channel 1 is channel 0 + 100
        float[] src = {0f, 100f, 10f, 110f, 20f, 120f, 30f, 130f};
        float[] out = BilinearResize.resize(src, 2, 2, 2, 4, 4, new float[32]);
        // row 1 samples source row 0.25, column 2 samples source column 0.75
        float expected = (0f * 0.25f + 10f * 0.75f) * 0.75f + (20f * 0.25f + 30f * 0.75f) * 0.25f;
        assertArrayEquals(new float[] {expected, expected + 100f}, new float[] {out[(4 + 2) * 2], out[(4 + 2) * 2 + 1]}, 1e-5f);
    }
}
