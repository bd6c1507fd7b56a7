package dev.personseg.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class FrameStatsTest {
    @Test
    public void smoothsInferenceTimeAndFrameRate() {
        FrameStats stats = new FrameStats(0.5);
        assertTrue(Double.isNaN(stats.inferenceMs()));
        stats.frame(0, 10);
        assertEquals(10, stats.inferenceMs(), 1e-9);
        assertTrue("no rate from one frame", Double.isNaN(stats.fps()));
        stats.frame(100_000_000L, 20);   // 100 ms later: 10 fps
        assertEquals(15, stats.inferenceMs(), 1e-9);
        assertEquals(10, stats.fps(), 1e-9);
        stats.frame(150_000_000L, 20);   // 50 ms later: 20 fps, averaged halfway
        assertEquals(15, stats.fps(), 1e-9);
        stats.reset();
        assertTrue(Double.isNaN(stats.fps()));
    }

    @Test
    public void refusesSmoothingOutsideZeroToOne() {
        assertThrows(IllegalArgumentException.class, () -> new FrameStats(0));
        assertThrows(IllegalArgumentException.class, () -> new FrameStats(1.5));
    }
}
