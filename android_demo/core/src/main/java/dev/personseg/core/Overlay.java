package dev.personseg.core;

/** Compositing a person mask onto pixels (ARGB ints, Android's Bitmap layout). */
public final class Overlay {
    private Overlay() {
    }

    /** A layer to draw over the live preview: {@code color} (with its alpha) on person pixels, transparent elsewhere. */
    public static int[] maskLayer(boolean[] mask, int color, int[] dst) {
        int[] out = dst != null && dst.length >= mask.length ? dst : new int[mask.length];
        for (int i = 0; i < mask.length; i++) {
            out[i] = mask[i] ? color : 0;
        }
        return out;
    }

    /**
     * Blends {@code color} over the person pixels of an image, weighted by the colour's alpha
     * (0-255), rounding to nearest; other pixels and the image's own alpha are kept.
     */
    public static int[] blend(int[] argb, boolean[] mask, int color, int[] dst) {
        if (mask.length != argb.length) {
            throw new IllegalArgumentException("mask has " + mask.length + " pixels, image " + argb.length);
        }
        int[] out = dst != null && dst.length >= argb.length ? dst : new int[argb.length];
        int a = color >>> 24;
        for (int i = 0; i < argb.length; i++) {
            int p = argb[i];
            if (!mask[i]) {
                out[i] = p;
                continue;
            }
            int r = mix((p >> 16) & 0xff, (color >> 16) & 0xff, a);
            int g = mix((p >> 8) & 0xff, (color >> 8) & 0xff, a);
            int b = mix(p & 0xff, color & 0xff, a);
            out[i] = (p & 0xff000000) | (r << 16) | (g << 8) | b;
        }
        return out;
    }

    private static int mix(int under, int over, int alpha) {
        return (under * (255 - alpha) + over * alpha + 127) / 255;
    }
}
