package dev.personseg.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.Assume;
import org.junit.Test;

/**
 * The app's contract parser against export/contract.schema.json, the one definition of the contract that
 * Python validates every contract against: the golden contracts follow the schema, and what the schema
 * refuses (an unknown layout, a threshold outside (0, 1), a missing field) the parser refuses too.
 *
 * <p>The schema file comes from the system property {@code contract.schema}; without it these tests are skipped.
 */
public class ContractSchemaTest {
    /** TestContracts' float model with the source fields the schema requires (the app does not read them). */
    private static final String[] COMPLETE = {"\"trained\": true", "\"checkpoint\": null, \"checkpoint_sha256\": null, \"trained\": true"};

    /** Edits of the complete template, each refused by the schema and by the parser. */
    private static final String[][] REFUSED = {
        {"\"layout\": \"NHWC\", \"dtype\": \"float32\", \"quantization\": null},\n  \"output\"",
            "\"layout\": \"nhwc_sideways\", \"dtype\": \"float32\", \"quantization\": null},\n  \"output\""},
        {"\"threshold\": 0.5", "\"threshold\": 1.0"},
        {"\"threshold\": 0.5", "\"threshold\": 0.0"},
        {"\"threshold\": 0.5, ", ""},
        {"\"kind\": \"logits\"", "\"kind\": \"softmax\""},
        {"\"pixel_scale\": 255.0", "\"pixel_scale\": 0"},
        {"\"color_order\": \"RGB\"", "\"color_order\": \"BGR\""},
        {"\"std\": [0.229, 0.224, 0.225]", "\"std\": [0.229, 0.224]"},
        {"\"shape\": [1, 4, 6, 3]", "\"shape\": [1, 4, 6]"},
        {"\"artifact_bytes\": 3", "\"artifact_bytes\": -3"},
        {"\"schema_version\": 2", "\"schema_version\": 3"},
        {"\"format\": \"tflite\", ", ""},
        {"\"artifact\": \"m.tflite\",", ""},
        {"\"name\": \"out\", ", ""},
        {"\"channel_meaning\": \"person\", ", ""},
    };

    @SuppressWarnings("unchecked")
    private static Map<String, Object> schema() throws IOException {
        String file = System.getProperty("contract.schema");
        Assume.assumeTrue("no schema: set -Dcontract.schema=export/contract.schema.json", file != null);
        return (Map<String, Object>) Json.parse(new String(Files.readAllBytes(Paths.get(file)), StandardCharsets.UTF_8));
    }

    private static SchemaCheck check() throws IOException {
        return new SchemaCheck(schema());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> node(Map<String, Object> schema, String... path) {
        Map<String, Object> node = schema;
        for (String key : path) {
            node = (Map<String, Object>) node.get(key);
        }
        return node;
    }

    private static TreeSet<String> strings(Object values) {
        return ((List<?>) values).stream().map(v -> String.valueOf(v).toUpperCase(Locale.ROOT))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static <E extends Enum<E>> TreeSet<String> names(Class<E> type) {
        return Stream.of(type.getEnumConstants()).map(Enum::name).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    public void theCompleteTemplateFollowsTheSchemaAndParses() throws IOException {
        String json = TestContracts.with(COMPLETE);
        assertEquals(new ArrayList<String>(), check().errors(Json.parse(json)));
        ModelContract.parse(json);
    }

    @Test
    public void whatTheSchemaRefusesTheParserRefuses() throws IOException {
        SchemaCheck schema = check();
        for (String[] edit : REFUSED) {
            String json = TestContracts.with(COMPLETE[0], COMPLETE[1], edit[0], edit[1]);
            assertFalse("the schema accepts " + edit[1], schema.errors(Json.parse(json)).isEmpty());
            try {
                ModelContract.parse(json);
                fail("the parser accepts what the schema refuses: " + edit[1] + " " + schema.errors(Json.parse(json)));
            } catch (ContractException expected) {
                // refused, as the schema says
            }
        }
    }

    @Test
    public void theParsersEnumsAndRangesAreTheSchemas() throws IOException {
        Map<String, Object> schema = schema();
        Map<String, Object> tensor = node(schema, "$defs", "tensor", "properties");
        assertEquals(strings(node(tensor, "layout").get("enum")), names(TensorSpec.Layout.class));
        TreeSet<String> dtypes = strings(node(tensor, "dtype").get("enum"));
        assertTrue("the app's dtypes " + names(TensorSpec.DType.class) + " are not all in the schema's " + dtypes,
                dtypes.containsAll(names(TensorSpec.DType.class)));
        Map<String, Object> post = node(schema, "properties", "postprocess", "properties");
        assertEquals(strings(node(post, "kind").get("enum")), names(ModelContract.OutputKind.class));
        List<?> versions = (List<?>) node(schema, "properties", "schema_version").get("enum");
        assertEquals((double) ModelContract.OLDEST_SCHEMA_VERSION, versions.get(0));
        assertEquals((double) ModelContract.SCHEMA_VERSION, versions.get(versions.size() - 1));

        Map<String, Object> threshold = node(post, "threshold");
        double low = (Double) threshold.get("exclusiveMinimum");
        double high = (Double) threshold.get("exclusiveMaximum");
        for (double t : new double[] {low, high, low - 0.5, high + 0.5}) {
            try {
                TestContracts.parse("\"threshold\": 0.5", "\"threshold\": " + t);
                fail("threshold " + t + " is outside the schema's (" + low + ", " + high + ") but parses");
            } catch (ContractException expected) {
                // refused
            }
        }
        double mid = (low + high) / 2;
        assertEquals(mid, TestContracts.parse("\"threshold\": 0.5", "\"threshold\": " + mid).threshold, 0);
    }

    @Test
    public void goldenContractsFollowTheSchema() throws IOException {
        SchemaCheck schema = check();
        String root = System.getProperty("golden.dir");
        Assume.assumeTrue("no golden fixtures: set -Dgolden.dir", root != null);
        List<Path> contracts;
        try (Stream<Path> dirs = Files.list(Paths.get(root))) {
            contracts = dirs.map(d -> d.resolve("contract.json")).filter(Files::isRegularFile).sorted()
                    .collect(Collectors.toList());
        }
        assertFalse("no contracts in golden.dir " + root, contracts.isEmpty());
        for (Path file : contracts) {
            String json = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
            assertEquals(file + " does not follow the schema", new ArrayList<String>(), schema.errors(Json.parse(json)));
            ModelContract.parse(json);
            System.out.println("golden " + file.getParent().getFileName() + ": contract follows the schema");
        }
    }
}
