package dev.personseg.demo;

import android.content.Context;
import android.graphics.Bitmap;
import android.graphics.Canvas;
import android.graphics.Matrix;
import android.graphics.Paint;
import android.util.AttributeSet;
import android.view.View;

/**
 * Draws the person-mask layer over the camera preview with PreviewView's default FILL_CENTER
 * geometry (scaled to cover the view, centred, overflow cropped), mirrored for the front camera.
 * Analysis frames and preview share one aspect ratio (MainActivity asks both for 4:3), so they line up.
 */
public final class OverlayView extends View {
    private final Paint paint = new Paint(Paint.FILTER_BITMAP_FLAG);
    private final Matrix matrix = new Matrix();
    private Bitmap mask;
    private boolean mirrored;

    public OverlayView(Context context, AttributeSet attrs) {
        super(context, attrs);
    }

    /** Shows {@code layer} (frame-sized ARGB, transparent where no person); call on the UI thread. */
    void setMask(Bitmap layer, boolean mirror) {
        mask = layer;
        mirrored = mirror;
        invalidate();
    }

    void clear() {
        mask = null;
        invalidate();
    }

    @Override
    protected void onDraw(Canvas canvas) {
        super.onDraw(canvas);
        if (mask == null) {
            return;
        }
        float scale = Math.max(getWidth() / (float) mask.getWidth(), getHeight() / (float) mask.getHeight());
        matrix.setScale(scale, scale);
        matrix.postTranslate((getWidth() - mask.getWidth() * scale) / 2f, (getHeight() - mask.getHeight() * scale) / 2f);
        if (mirrored) {
            matrix.postScale(-1f, 1f, getWidth() / 2f, 0f);
        }
        canvas.drawBitmap(mask, matrix, paint);
    }
}
