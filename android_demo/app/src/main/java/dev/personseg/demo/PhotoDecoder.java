package dev.personseg.demo;

import android.content.ContentResolver;
import android.graphics.Bitmap;
import android.graphics.ImageDecoder;
import android.net.Uri;
import java.io.IOException;

/** Gallery photos as the segmenter wants them: software ARGB_8888 bitmaps, upright, not larger than needed. */
final class PhotoDecoder {
    private PhotoDecoder() {
    }

    /** A software ARGB_8888 bitmap (getPixels needs one), upright (ImageDecoder applies EXIF), at most maxSide. */
    static Bitmap decode(ContentResolver resolver, Uri uri, int maxSide) throws IOException {
        Bitmap bitmap = ImageDecoder.decodeBitmap(ImageDecoder.createSource(resolver, uri), (decoder, info, source) -> {
            decoder.setAllocator(ImageDecoder.ALLOCATOR_SOFTWARE);
            int longest = Math.max(info.getSize().getWidth(), info.getSize().getHeight());
            if (longest > maxSide) {
                float scale = maxSide / (float) longest;
                decoder.setTargetSize(Math.round(info.getSize().getWidth() * scale), Math.round(info.getSize().getHeight() * scale));
            }
        });
        return bitmap.getConfig() == Bitmap.Config.ARGB_8888 ? bitmap : bitmap.copy(Bitmap.Config.ARGB_8888, false);
    }
}
