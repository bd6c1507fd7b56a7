package dev.personseg.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

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
                {"\"schema_version\": 1", "\"schema_version\": 2", "schema 2 is not 1"},
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
    public void refusesNonTfliteFormats() {
        ModelContract onnx = TestContracts.parse("\"format\": \"tflite\"", "\"format\": \"onnx\"");
        ContractException err = assertThrows(ContractException.class, onnx::requireTfliteNhwc);
        assertTrue(err.getMessage(), err.getMessage().contains("onnx"));
    }
}
