package dev.personseg.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.Assume;
import org.junit.Test;

/**
 * The core against golden fixtures written by android_demo/write_golden.py from real exported
 * contracts with export/preprocess.py: the input tensor within 1e-5 (quantized inputs exactly),
 * the logits within 1e-5, and the masks pixel for pixel.
 *
 * <p>The fixture folder comes from the system property {@code golden.dir}; without it these tests are skipped.
 * Each case is a sub-folder with case.json, contract.json and little-endian raw arrays.
 */
public class GoldenFixturesTest {
    private static final double TOLERANCE = 1e-5;

    /** One case folder, read lazily. */
    private static final class Case {
        final Path dir;
        final Map<String, Object> meta;
        final ModelContract contract;

        @SuppressWarnings("unchecked")
        Case(Path dir) throws IOException {
            this.dir = dir;
            this.meta = (Map<String, Object>) Json.parse(read("case.json"));
            this.contract = ModelContract.parse(read("contract.json"));
        }

        String name() {
            return dir.getFileName().toString();
        }

        String read(String file) throws IOException {
            return new String(Files.readAllBytes(dir.resolve(file)), StandardCharsets.UTF_8);
        }

        boolean has(String key) {
            return meta.get(key) != null;
        }

        ByteBuffer bytes(String key) throws IOException {
            return ByteBuffer.wrap(Files.readAllBytes(dir.resolve((String) meta.get(key)))).order(ByteOrder.LITTLE_ENDIAN);
        }

        int integer(String key, int index) {
            return ((Double) ((List<?>) meta.get(key)).get(index)).intValue();
        }
    }

    private static List<Case> cases() throws IOException {
        String root = System.getProperty("golden.dir");
        Assume.assumeTrue("no golden fixtures: set -Dgolden.dir (android_demo/write_golden.py writes them)", root != null);
        List<Case> cases = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(Paths.get(root))) {
            for (Path dir : dirs.filter(Files::isDirectory).sorted().collect(Collectors.toList())) {
                cases.add(new Case(dir));
            }
        }
        assertTrue("no cases in golden.dir " + root, !cases.isEmpty());
        return cases;
    }

    @Test
    public void inputTensorsMatchThePythonReference() throws IOException {
        int checked = 0;
        for (Case c : cases()) {
            if (!c.has("image")) {
                continue;
            }
            BufferedImage image = ImageIO.read(c.dir.resolve((String) c.meta.get("image")).toFile());
            int w = image.getWidth();
            int h = image.getHeight();
            int[] argb = image.getRGB(0, 0, w, h, null, 0, w);
            Preprocessor pre = new Preprocessor(c.contract);
            ByteBuffer actual = ByteBuffer.allocate(c.contract.input.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
            pre.toInputTensor(argb, w, h, actual);
            compare(c.name() + " input tensor", c.contract.input, c.bytes("input"), actual);
            System.out.println("golden " + c.name() + ": input tensor matches");
            checked++;
        }
        assertTrue("no case has an image", checked > 0);
    }

    @Test
    public void logitsMatchThePythonReference() throws IOException {
        int checked = 0;
        for (Case c : cases()) {
            if (!c.has("output")) {
                continue;
            }
            float[] actual = new Postprocessor(c.contract).logits(c.bytes("output"));
            float[] expected = floats(c.bytes("logits"));
            assertEquals(c.name() + " logits count", expected.length, c.contract.output.height() * c.contract.output.width());
            double worst = 0;
            int worstAt = -1;
            for (int i = 0; i < expected.length; i++) {
                double diff = Math.abs(expected[i] - actual[i]);
                if (!(diff <= worst)) { // also catches NaN
                    worst = diff;
                    worstAt = i;
                }
            }
            if (!(worst <= TOLERANCE)) {
                fail(String.format(Locale.ROOT, "%s logits: max |diff| %.3g at %d (expected %s, got %s)", c.name(), worst,
                        worstAt, expected[worstAt], actual[worstAt]));
            }
            System.out.println("golden " + c.name() + ": logits match");
            checked++;
        }
        assertTrue("no case has a model output", checked > 0);
    }

    @Test
    public void masksMatchThePythonReference() throws IOException {
        int checked = 0;
        for (Case c : cases()) {
            int h = c.integer("mask_size", 0);
            int w = c.integer("mask_size", 1);
            // The mask comes from the Java logits where the case has a raw output, else from the golden logits.
            float[] logits = c.has("output")
                    ? new Postprocessor(c.contract).logits(c.bytes("output"))
                    : floats(c.bytes("logits"));
            boolean[] actual = new Postprocessor(c.contract).mask(logits, h, w, null);
            ByteBuffer expected = c.bytes("mask");
            assertEquals(c.name() + " mask size", h * w, expected.capacity());
            int wrong = 0;
            int first = -1;
            for (int i = 0; i < h * w; i++) {
                if ((expected.get(i) != 0) != actual[i]) {
                    wrong++;
                    first = first < 0 ? i : first;
                }
            }
            if (wrong > 0) {
                fail(String.format(Locale.ROOT, "%s mask: %d of %d pixels differ (first at y=%d x=%d)", c.name(), wrong, h * w,
                        first / w, first % w));
            }
            System.out.println("golden " + c.name() + ": mask matches");
            checked++;
        }
        assertTrue("no mask cases", checked > 0);
    }

    private static void compare(String what, TensorSpec spec, ByteBuffer expected, ByteBuffer actual) {
        assertEquals(what + " byte size", spec.byteSize(), expected.capacity());
        int n = spec.elementCount();
        if (spec.dtype == TensorSpec.DType.FLOAT32) {
            double worst = 0;
            int worstAt = -1;
            for (int i = 0; i < n; i++) {
                double diff = Math.abs(expected.getFloat(i * 4) - actual.getFloat(i * 4));
                if (!(diff <= worst)) {
                    worst = diff;
                    worstAt = i;
                }
            }
            if (!(worst <= TOLERANCE)) {
                fail(String.format(Locale.ROOT, "%s: max |diff| %.3g at element %d (expected %s, got %s)", what, worst,
                        worstAt, expected.getFloat(worstAt * 4), actual.getFloat(worstAt * 4)));
            }
            return;
        }
        int wrong = 0;
        int first = -1;
        for (int i = 0; i < n; i++) {
            if (expected.get(i) != actual.get(i)) {
                wrong++;
                first = first < 0 ? i : first;
            }
        }
        if (wrong > 0) {
            fail(String.format(Locale.ROOT, "%s: %d of %d quantized elements differ (first at %d: expected %d, got %d)", what,
                    wrong, n, first, element(spec, expected, first), element(spec, actual, first)));
        }
    }

    private static int element(TensorSpec spec, ByteBuffer buffer, int index) {
        return spec.dtype == TensorSpec.DType.UINT8 ? buffer.get(index) & 0xff : buffer.get(index);
    }

    private static float[] floats(ByteBuffer buffer) {
        float[] out = new float[buffer.capacity() / 4];
        buffer.asFloatBuffer().get(out);
        return out;
    }
}
