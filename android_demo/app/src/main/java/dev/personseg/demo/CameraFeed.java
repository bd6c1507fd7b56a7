package dev.personseg.demo;

import android.graphics.Bitmap;
import android.graphics.Matrix;
import android.util.Size;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.ImageAnalysis;
import androidx.camera.core.ImageProxy;
import androidx.camera.core.Preview;
import androidx.camera.core.resolutionselector.AspectRatioStrategy;
import androidx.camera.core.resolutionselector.ResolutionSelector;
import androidx.camera.core.resolutionselector.ResolutionStrategy;
import androidx.camera.lifecycle.ProcessCameraProvider;
import androidx.camera.view.PreviewView;
import androidx.lifecycle.LifecycleOwner;
import java.util.concurrent.Executor;

/**
 * The camera side of the demo: CameraX's preview and analysis use cases, bound together, and the
 * analysis frames turned into upright ARGB bitmaps for the segmenter.
 */
final class CameraFeed {
    private static final Size ANALYSIS_SIZE = new Size(640, 480);

    private CameraFeed() {
    }

    /**
     * Binds preview and analysis of one camera to {@code owner}'s lifecycle, frames going to {@code analyzer}
     * on {@code executor}. Throws IllegalArgumentException when the device has no such camera.
     */
    static void bind(ProcessCameraProvider provider, LifecycleOwner owner, PreviewView previewView, boolean front,
            Executor executor, ImageAnalysis.Analyzer analyzer) {
        // Preview and analysis share the 4:3 aspect ratio, so the overlay's FILL_CENTER lines up with the preview's.
        AspectRatioStrategy fourByThree = AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY;
        Preview preview = new Preview.Builder()
                .setResolutionSelector(new ResolutionSelector.Builder().setAspectRatioStrategy(fourByThree).build())
                .build();
        preview.setSurfaceProvider(previewView.getSurfaceProvider());
        ImageAnalysis analysis = new ImageAnalysis.Builder()
                .setResolutionSelector(new ResolutionSelector.Builder()
                        .setAspectRatioStrategy(fourByThree)
                        .setResolutionStrategy(new ResolutionStrategy(ANALYSIS_SIZE,
                                ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER))
                        .build())
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .setOutputImageRotationEnabled(true) // upright frames: the model was trained on upright people
                .build();
        analysis.setAnalyzer(executor, analyzer);
        CameraSelector camera = front ? CameraSelector.DEFAULT_FRONT_CAMERA : CameraSelector.DEFAULT_BACK_CAMERA;
        provider.unbindAll();
        provider.bindToLifecycle(owner, camera, preview, analysis);
    }

    /** The frame as an upright bitmap: CameraX rotates the buffer when it can (rotation then reads 0); otherwise here. */
    static Bitmap upright(ImageProxy image) {
        Bitmap frame = image.toBitmap();
        int rotationDegrees = image.getImageInfo().getRotationDegrees();
        if (rotationDegrees == 0) {
            return frame;
        }
        Matrix rotate = new Matrix();
        rotate.postRotate(rotationDegrees);
        return Bitmap.createBitmap(frame, 0, 0, frame.getWidth(), frame.getHeight(), rotate, false);
    }
}
