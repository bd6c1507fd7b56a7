package dev.personseg.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import org.junit.Test;

public class ModelContractTest {
    @Test
    public void parsesTheExportersContract() {
        ModelContract c = TestContracts.parse();
        assertEquals("tflite", c.format);
        assertEquals(4, c.input.height());
        assertEquals(6, c.input.width());
        assertEquals(3, c.input.channels());
        assertSame(TensorSpec.DType.FLOAT32, c.input.dtype);
        assertNull(c.input.quantization);
        assertArrayEquals(new float[] {0.485f, 0.456f, 0.406f}, c.mean, 0f);
        assertEquals(255f, c.pixelScale, 0f);
        assertSame(ModelContract.OutputKind.LOGITS, c.outputKind);
        assertEquals(0.0, c.logitThreshold(), 0.0);
        assertEquals("efficientnet-b0", c.encoder);
        assertSame(c, c.requireTfliteNhwc());
    }

    @Test
    public void readsQuantizedTensorsAndNchw() {
        ModelContract c = TestContracts.parse(
                "\"shape\": [1, 4, 6, 3], \"layout\": \"NHWC\", \"dtype\": \"float32\", \"quantization\": null",
                "\"shape\": [1, 3, 4, 6], \"layout\": \"NCHW\", \"dtype\": \"int8\", \"quantization\": {\"scale\": 0.02, \"zero_point\": -3}",
                "\"threshold\": 0.5", "\"threshold\": 0.25");
        assertSame(TensorSpec.Layout.NCHW, c.input.layout);
        assertEquals(4, c.input.height());
        assertEquals(3, c.input.channels());
        assertEquals(0.02f, c.input.quantization.scale, 0f);
        assertEquals(-3, c.input.quantization.zeroPoint);
        assertEquals(Math.log(0.25 / 0.75), c.logitThreshold(), 0.0);
        ContractException err = assertThrows(ContractException.class, c::requireTfliteNhwc);
        assertTrue(err.getMessage(), err.getMessage().contains("NHWC"));
    }

    @Test
    public void refusesContractsTheDemoCannotHonour() {
        String[][] cases = {
                {"\"schema_version\": 2", "\"schema_version\": 3", "schema 3 is not 1 to 2"},
                {"\"schema_version\": 2", "\"schema_version\": 1.5", "schema 1.5 is not 1 to 2"},
                {"\"artifact_bytes\": 3", "\"artifact_bytes\": -3", "artifact_bytes must be a non-negative integer"},
                {"\"artifact_sha256\": \"ba78", "\"artifact_sha256\": \"BA78", "artifact_sha256 must be 64 lower-case hex"},
                {"\"dtype\": \"float32\", \"quantization\": null},\n  \"output\"", "\"dtype\": \"float16\", \"quantization\": null},\n  \"output\"",
                        "input.dtype float16 is not supported"},
                {"\"shape\": [1, 4, 6, 3]", "\"shape\": [1, 4, 6, 4]", "3 (RGB) channels"},
                {"\"shape\": [1, 4, 6, 3]", "\"shape\": [4, 6, 3]", "4-D with batch 1"},
                {"\"shape\": [1, 4, 6, 3]", "\"shape\": [1, 4.5, 6, 3]", "must hold integers"},
                {"\"dtype\": \"float32\", \"quantization\": null},\n  \"output\"", "\"dtype\": \"int8\", \"quantization\": null},\n  \"output\"",
                        "int8 but has no quantization"},
                {"\"std\": [0.229, 0.224, 0.225]", "\"std\": [0.229, 0, 0.225]", "std must be finite and non-zero"},
                {"\"mean\": [0.485, 0.456, 0.406]", "\"mean\": [0.485, 0.456]", "mean must have 3 values"},
                {"\"threshold\": 0.5", "\"threshold\": 1.0", "threshold must be between 0 and 1"},
                {"\"kind\": \"logits\"", "\"kind\": \"softmax\"", "kind must be logits or probability"},
                {"\"color_order\": \"RGB\"", "\"color_order\": \"BGR\"", "color_order must be RGB"},
                {"\"pixel_scale\": 255.0", "\"pixel_scale\": \"255\"", "needs a number 'pixel_scale'"},
        };
        for (String[] c : cases) {
            ContractException err = assertThrows(c[1], ContractException.class, () -> TestContracts.parse(c[0], c[1]));
            assertTrue(err.getMessage(), err.getMessage().contains(c[2]));
        }
    }

    @Test
    public void verifiesTheArtifactAgainstItsChecksum() {
        ModelContract c = TestContracts.parse();
        assertEquals(TestContracts.ABC_SHA256, c.artifactSha256);
        assertEquals(3, c.artifactBytes);
        ByteBuffer model = ByteBuffer.wrap(TestContracts.ARTIFACT);
        assertSame(c, c.verifyArtifact(model));
        assertEquals(0, model.position()); // read, not consumed
        ContractException changed = assertThrows(ContractException.class,
                () -> c.verifyArtifact(ByteBuffer.wrap(new byte[] {'a', 'b', 'd'})));
        assertTrue(changed.getMessage(), changed.getMessage().contains("m.tflite does not match its contract: its SHA-256 differs"));
        ContractException truncated = assertThrows(ContractException.class,
                () -> c.verifyArtifact(ByteBuffer.wrap(new byte[] {'a', 'b'})));
        assertTrue(truncated.getMessage(), truncated.getMessage().contains("2 bytes, the contract says 3"));
    }

    @Test
    public void readsSchemaOneContractsWithoutChecksum() {
        ModelContract c = TestContracts.parse(
                "\"artifact_sha256\": \"" + TestContracts.ABC_SHA256 + "\", \"artifact_bytes\": 3, \"schema_version\": 2",
                "\"schema_version\": 1");
        assertNull(c.artifactSha256);
        assertEquals(-1, c.artifactBytes);
        assertSame(c, c.verifyArtifact(ByteBuffer.wrap(new byte[] {'x'}))); // nothing recorded, nothing to check
    }

    @Test
    public void refusesNonTfliteFormats() {
        ModelContract onnx = TestContracts.parse("\"format\": \"tflite\"", "\"format\": \"onnx\"");
        ContractException err = assertThrows(ContractException.class, onnx::requireTfliteNhwc);
        assertTrue(err.getMessage(), err.getMessage().contains("onnx"));
    }
}
