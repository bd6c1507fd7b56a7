package dev.personseg.core;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The model contract (export/contract.schema.json, schema 2; schema 1 is still read): the JSON written beside every
 * exported artifact. ContractSchemaTest checks that this parser refuses what that schema refuses. Everything the app needs to feed the model and read its output comes from here; nothing
 * is guessed. Schema 2 records the artifact's SHA-256 and size, checked by {@link #verifyArtifact}.
 */
public final class ModelContract {
    public static final int SCHEMA_VERSION = 2;
    public static final int OLDEST_SCHEMA_VERSION = 1;

    /** What output channel 0 holds. */
    public enum OutputKind { LOGITS, PROBABILITY }

    public final String format;
    public final String precision;
    public final String artifact;
    public final TensorSpec input;
    public final TensorSpec output;
    /** Per RGB channel; pixels are divided by pixelScale, then (x - mean) / std. */
    public final float[] mean;
    public final float[] std;
    public final float pixelScale;
    public final OutputKind outputKind;
    /** Person where sigmoid(logit) > threshold. */
    public final double threshold;
    public final String encoder;
    /** Lower-case hex SHA-256 of the model file; null when the contract records none (schema 1). */
    public final String artifactSha256;
    /** Size of the model file in bytes; -1 when the contract records none (schema 1). */
    public final long artifactBytes;

    private ModelContract(Map<String, Object> root) {
        Object version = root.get("schema_version");
        boolean known = version instanceof Double && (Double) version == Math.rint((Double) version)
                && (Double) version >= OLDEST_SCHEMA_VERSION && (Double) version <= SCHEMA_VERSION;
        if (!known) {
            boolean integral = version instanceof Double && (Double) version == Math.rint((Double) version);
            String found = integral ? String.valueOf(((Double) version).longValue()) : String.valueOf(version);
            throw new ContractException("contract schema " + found + " is not " + OLDEST_SCHEMA_VERSION + " to "
                    + SCHEMA_VERSION + " (update the app or re-export)");
        }
        format = string(root, "format");
        precision = string(root, "precision");
        artifact = string(root, "artifact");
        input = tensor(object(root, "input"), "input");
        output = tensor(object(root, "output"), "output");
        if (input.channels() != 3) {
            throw new ContractException("input must have 3 (RGB) channels, has " + input.channels());
        }

        Map<String, Object> pre = object(root, "preprocess");
        mean = floats(pre, "mean", 3);
        std = floats(pre, "std", 3);
        for (float s : std) {
            if (!(s != 0 && Float.isFinite(s))) {
                throw new ContractException("preprocess.std must be finite and non-zero");
            }
        }
        pixelScale = (float) number(pre, "pixel_scale");
        require(pixelScale > 0, "preprocess.pixel_scale must be positive");
        require("RGB".equals(string(pre, "color_order")), "preprocess.color_order must be RGB");
        require("bilinear".equals(string(pre, "resize")), "preprocess.resize must be bilinear");

        Map<String, Object> post = object(root, "postprocess");
        String kind = string(post, "kind");
        require(kind.equals("logits") || kind.equals("probability"),
                "postprocess.kind must be logits or probability, not " + kind);
        outputKind = kind.equals("logits") ? OutputKind.LOGITS : OutputKind.PROBABILITY;
        threshold = number(post, "threshold");
        require(threshold > 0 && threshold < 1, "postprocess.threshold must be between 0 and 1");
        require("bilinear".equals(string(post, "resize")), "postprocess.resize must be bilinear");
        string(post, "channel_meaning");

        encoder = string(object(root, "source"), "encoder");

        Object sha = root.get("artifact_sha256");
        require(sha == null || (sha instanceof String && ((String) sha).matches("[0-9a-f]{64}")),
                "artifact_sha256 must be 64 lower-case hex digits or null");
        artifactSha256 = (String) sha;
        Object bytes = root.get("artifact_bytes");
        require(bytes == null || (bytes instanceof Double && (Double) bytes >= 0 && (Double) bytes == Math.rint((Double) bytes)),
                "artifact_bytes must be a non-negative integer or null");
        artifactBytes = bytes == null ? -1 : ((Double) bytes).longValue();
    }

    /** Parses and validates contract JSON; throws {@link ContractException} (or IllegalArgumentException for bad JSON). */
    @SuppressWarnings("unchecked")
    public static ModelContract parse(String json) {
        Object root = Json.parse(json);
        if (!(root instanceof Map)) {
            throw new ContractException("contract must be a JSON object");
        }
        return new ModelContract((Map<String, Object>) root);
    }

    /** The demo runs TFLite models with an NHWC image input (what onnx2tf writes). */
    public ModelContract requireTfliteNhwc() {
        require("tflite".equals(format), "the app runs TFLite models; this contract is for " + format);
        require(input.layout == TensorSpec.Layout.NHWC, "the TFLite input must be NHWC, contract says " + input.layout);
        return this;
    }

    /**
     * Refuses a model file that is not the one the contract describes (size, then SHA-256); contracts
     * without a checksum (schema 1) accept any. Reads {@code model} from its position to its limit
     * without moving them.
     */
    public ModelContract verifyArtifact(ByteBuffer model) {
        ByteBuffer bytes = model.duplicate();
        if (artifactBytes >= 0 && bytes.remaining() != artifactBytes) {
            throw new ContractException(artifact + " does not match its contract: " + bytes.remaining()
                    + " bytes, the contract says " + artifactBytes + " (re-run install_model.py)");
        }
        if (artifactSha256 != null && !artifactSha256.equals(sha256Hex(bytes))) {
            throw new ContractException(artifact + " does not match its contract: its SHA-256 differs"
                    + " (re-run install_model.py)");
        }
        return this;
    }

    static String sha256Hex(ByteBuffer bytes) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
        digest.update(bytes);
        StringBuilder hex = new StringBuilder(64);
        for (byte b : digest.digest()) {
            hex.append(String.format(Locale.ROOT, "%02x", b));
        }
        return hex.toString();
    }

    /** The logit above which a pixel is person: log(t / (1 - t)), in double like numpy's np.log of a Python float. */
    public double logitThreshold() {
        return Math.log(threshold / (1 - threshold));
    }

    public String describe() {
        return String.format(Locale.ROOT, "%s %s %dx%d %s in / %s out", encoder, precision, input.height(),
                input.width(), input.dtype.name().toLowerCase(Locale.ROOT), output.dtype.name().toLowerCase(Locale.ROOT));
    }

    private static TensorSpec tensor(Map<String, Object> spec, String key) {
        List<Object> dims = list(spec, "shape", key);
        int[] shape = new int[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = integer(dims.get(i), key + ".shape");
        }
        TensorSpec.Layout layout = enumValue(TensorSpec.Layout.class, string(spec, "layout"), key + ".layout");
        Object dtypeName = spec.containsKey("dtype") ? spec.get("dtype") : "float32";
        TensorSpec.DType dtype = enumValue(TensorSpec.DType.class, String.valueOf(dtypeName), key + ".dtype");
        TensorSpec.Quantization quant = null;
        Object q = spec.get("quantization");
        if (q instanceof Map) {
            @SuppressWarnings("unchecked")
            Map<String, Object> qmap = (Map<String, Object>) q;
            quant = new TensorSpec.Quantization((float) number(qmap, "scale"),
                    integer(qmap.get("zero_point"), key + ".quantization.zero_point"));
        } else if (q != null) {
            throw new ContractException(key + ".quantization must be an object or null");
        }
        return new TensorSpec(string(spec, "name"), shape, layout, dtype, quant);
    }

    private static <E extends Enum<E>> E enumValue(Class<E> type, String value, String what) {
        try {
            return Enum.valueOf(type, value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ContractException(what + " " + value + " is not supported by the demo");
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Map<String, Object> map, String key) {
        Object value = map.get(key);
        if (!(value instanceof Map)) {
            throw new ContractException("contract needs an object '" + key + "'");
        }
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Map<String, Object> map, String key, String where) {
        Object value = map.get(key);
        if (!(value instanceof List)) {
            throw new ContractException(where + "." + key + " must be a list");
        }
        return (List<Object>) value;
    }

    private static String string(Map<String, Object> map, String key) {
        Object value = map.get(key);
        if (!(value instanceof String)) {
            throw new ContractException("contract needs a string '" + key + "'");
        }
        return (String) value;
    }

    private static double number(Map<String, Object> map, String key) {
        Object value = map.get(key);
        if (!(value instanceof Double)) {
            throw new ContractException("contract needs a number '" + key + "'");
        }
        return (Double) value;
    }

    private static int integer(Object value, String what) {
        if (!(value instanceof Double) || (Double) value != Math.rint((Double) value)) {
            throw new ContractException(what + " must hold integers, got " + value);
        }
        return ((Double) value).intValue();
    }

    private static float[] floats(Map<String, Object> map, String key, int count) {
        List<Object> values = list(map, key, "preprocess");
        if (values.size() != count) {
            throw new ContractException("preprocess." + key + " must have " + count + " values");
        }
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            if (!(values.get(i) instanceof Double)) {
                throw new ContractException("preprocess." + key + " must hold numbers");
            }
            out[i] = ((Double) values.get(i)).floatValue(); // like np.asarray(values, np.float32)
        }
        return out;
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new ContractException(message);
        }
    }
}
