package dev.personseg.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertThrows;

import org.junit.Test;

public class OverlayTest {
    @Test
    public void blendsTheColourOverPersonPixelsOnly() {
        int[] image = {0xff102030, 0x80102030};
        boolean[] mask = {true, false};
        int[] out = Overlay.blend(image, mask, 0x80ff0000, null);
        // alpha 128: r = (16 * 127 + 255 * 128 + 127) / 255 = 136, g = (32 * 127 + 127) / 255 = 16, b = 24
        assertArrayEquals(new int[] {0xff881018, 0x80102030}, out);
    }

    @Test
    public void opaqueColourReplacesAndTransparentColourKeeps() {
        boolean[] mask = {true};
        assertArrayEquals(new int[] {0xff00ff00}, Overlay.blend(new int[] {0xff123456}, mask, 0xff00ff00, null));
        assertArrayEquals(new int[] {0xff123456}, Overlay.blend(new int[] {0xff123456}, mask, 0x0000ff00, null));
    }

    @Test
    public void maskLayerIsTransparentOutsideThePerson() {
        assertArrayEquals(new int[] {0x6600ff00, 0, 0x6600ff00}, Overlay.maskLayer(new boolean[] {true, false, true}, 0x6600ff00, new int[3]));
    }

    @Test
    public void refusesAMaskOfAnotherSize() {
        assertThrows(IllegalArgumentException.class, () -> Overlay.blend(new int[4], new boolean[3], 0, null));
    }
}
