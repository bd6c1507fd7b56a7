package dev.personseg.core;

import java.nio.ByteBuffer;

/**
 * One frame through the whole pipeline: pre-process, run the model, post-process into a mask of the
 * frame's size. The runtime is behind {@link Model}, so the pipeline runs on the JVM as on the phone.
 *
 * <p>Not thread-safe: use one Segmenter per thread (the app keeps it on its analysis thread).
 */
public final class Segmenter {

    /** A runtime that fills {@code output} from {@code input} (both the contract's tensors, native byte order). */
    public interface Model {
        void run(ByteBuffer input, ByteBuffer output);
    }

    /** A mask of the frame's size and where the time went. */
    public static final class Result {
        public final boolean[] mask;
        public final int width;
        public final int height;
        public final double preprocessMs;
        public final double inferenceMs;
        public final double postprocessMs;

        Result(boolean[] mask, int width, int height, double preprocessMs, double inferenceMs, double postprocessMs) {
            this.mask = mask;
            this.width = width;
            this.height = height;
            this.preprocessMs = preprocessMs;
            this.inferenceMs = inferenceMs;
            this.postprocessMs = postprocessMs;
        }

        public int personPixels() {
            int count = 0;
            for (boolean person : mask) {
                if (person) {
                    count++;
                }
            }
            return count;
        }
    }

    private final ModelContract contract;
    private final Model model;
    private final Preprocessor preprocessor;
    private final Postprocessor postprocessor;
    private final ByteBuffer input;
    private final ByteBuffer output;

    public Segmenter(ModelContract contract, Model model) {
        this.contract = contract;
        this.model = model;
        this.preprocessor = new Preprocessor(contract);
        this.postprocessor = new Postprocessor(contract);
        this.input = preprocessor.allocateInput();
        this.output = postprocessor.allocateOutput();
    }

    public ModelContract contract() {
        return contract;
    }

    /** Segments a row-major ARGB frame; the mask is a new array the caller may keep. */
    public Result segment(int[] argb, int width, int height) {
        long t0 = System.nanoTime();
        preprocessor.toInputTensor(argb, width, height, input);
        long t1 = System.nanoTime();
        input.rewind();
        output.rewind();
        model.run(input, output);
        long t2 = System.nanoTime();
        boolean[] mask = postprocessor.mask(postprocessor.logits(output), height, width, null);
        long t3 = System.nanoTime();
        return new Result(mask, width, height, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6);
    }
}
