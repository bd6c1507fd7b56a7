package dev.personseg.core;

/** Contract JSON for unit tests: the exporter's shape for a float TFLite model, with parts swapped out. */
final class TestContracts {
    /** The model file FLOAT_NHWC describes: the three bytes "abc", whose SHA-256 this is. */
    static final byte[] ARTIFACT = {'a', 'b', 'c'};
    static final String ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    static final String FLOAT_NHWC = "{\n"
            + "  \"format\": \"tflite\", \"precision\": \"fp32\", \"artifact\": \"m.tflite\",\n"
            + "  \"input\": {\"name\": \"in\", \"shape\": [1, 4, 6, 3], \"layout\": \"NHWC\", \"dtype\": \"float32\", \"quantization\": null},\n"
            + "  \"output\": {\"name\": \"out\", \"shape\": [1, 4, 6, 1], \"layout\": \"NHWC\", \"dtype\": \"float32\", \"quantization\": null},\n"
            + "  \"preprocess\": {\"mean\": [0.485, 0.456, 0.406], \"std\": [0.229, 0.224, 0.225], \"pixel_scale\": 255.0,"
            + " \"color_order\": \"RGB\", \"resize\": \"bilinear\"},\n"
            + "  \"postprocess\": {\"kind\": \"logits\", \"threshold\": 0.5, \"channel_meaning\": \"person\", \"resize\": \"bilinear\"},\n"
            + "  \"source\": {\"encoder\": \"efficientnet-b0\", \"trained\": true, \"metrics\": {\"val_iou\": NaN}},\n"
            + "  \"tools\": {\"onnx2tf\": \"2.6.9\"}, \"notes\": [\"a \\\"quoted\\\" note \\u00e9\"],\n"
            + "  \"artifact_sha256\": \"" + ABC_SHA256 + "\", \"artifact_bytes\": 3, \"schema_version\": 2\n"
            + "}\n";

    private TestContracts() {
    }

    /** FLOAT_NHWC with each {@code pairs[i]} replaced by {@code pairs[i + 1]} (each must occur). */
    static String with(String... pairs) {
        String json = FLOAT_NHWC;
        for (int i = 0; i < pairs.length; i += 2) {
            if (!json.contains(pairs[i])) {
                throw new IllegalArgumentException("template has no " + pairs[i]);
            }
            json = json.replace(pairs[i], pairs[i + 1]);
        }
        return json;
    }

    static ModelContract parse(String... pairs) {
        return ModelContract.parse(with(pairs));
    }
}
