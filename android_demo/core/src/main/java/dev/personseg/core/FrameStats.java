package dev.personseg.core;

/**
 * Smoothed inference time and frame rate for the on-screen readout (exponential moving averages,
 * so one slow frame does not make the numbers jump).
 */
public final class FrameStats {
    private final double smoothing;
    private double inferenceMs = Double.NaN;
    private double fps = Double.NaN;
    private long lastFrameNanos = Long.MIN_VALUE;

    /** {@code smoothing} in (0, 1]: the weight of the newest frame. */
    public FrameStats(double smoothing) {
        if (!(smoothing > 0 && smoothing <= 1)) {
            throw new IllegalArgumentException("smoothing must be in (0, 1], got " + smoothing);
        }
        this.smoothing = smoothing;
    }

    /** Records a frame that finished at {@code nowNanos} (System.nanoTime) after {@code frameInferenceMs} of inference. */
    public synchronized void frame(long nowNanos, double frameInferenceMs) {
        inferenceMs = Double.isNaN(inferenceMs) ? frameInferenceMs : inferenceMs + smoothing * (frameInferenceMs - inferenceMs);
        if (lastFrameNanos != Long.MIN_VALUE && nowNanos > lastFrameNanos) {
            double instant = 1e9 / (nowNanos - lastFrameNanos);
            fps = Double.isNaN(fps) ? instant : fps + smoothing * (instant - fps);
        }
        lastFrameNanos = nowNanos;
    }

    /** Forget the history (after switching the delegate or the camera). */
    public synchronized void reset() {
        inferenceMs = Double.NaN;
        fps = Double.NaN;
        lastFrameNanos = Long.MIN_VALUE;
    }

    /** NaN until the first frame. */
    public synchronized double inferenceMs() {
        return inferenceMs;
    }

    /** NaN until the second frame. */
    public synchronized double fps() {
        return fps;
    }
}
