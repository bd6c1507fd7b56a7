package dev.personseg.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A JSON Schema (2020-12) checker for the keywords export/contract.schema.json uses, so the JVM tests validate
 * contracts against the same schema file as Python's jsonschema without a library. A keyword it does not know
 * is an error: the schema cannot outgrow this checker silently.
 */
final class SchemaCheck {
    private static final Set<String> ANNOTATIONS = new HashSet<>(Arrays.asList(
            "$schema", "$id", "$defs", "title", "description"));
    private static final Set<String> KNOWN = new HashSet<>(Arrays.asList(
            "type", "enum", "const", "required", "properties", "additionalProperties", "items", "prefixItems",
            "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
            "pattern", "not", "oneOf", "$ref", "if", "then", "else"));

    private final Map<String, Object> root;

    SchemaCheck(Map<String, Object> root) {
        this.root = root;
    }

    /** Every violation, as "path: what"; empty when {@code value} follows the schema. */
    List<String> errors(Object value) {
        List<String> out = new ArrayList<>();
        check(root, value, "", out);
        return out;
    }

    @SuppressWarnings("unchecked")
    private void check(Map<String, Object> schema, Object value, String path, List<String> out) {
        for (String key : schema.keySet()) {
            if (!KNOWN.contains(key) && !ANNOTATIONS.contains(key)) {
                throw new IllegalStateException("schema keyword " + key + " at " + where(path) + " is not known to SchemaCheck");
            }
        }
        if (schema.containsKey("$ref")) {
            check(resolve((String) schema.get("$ref")), value, path, out);
        }
        if (schema.containsKey("type") && !typeMatches(schema.get("type"), value)) {
            out.add(where(path) + ": " + value + " is not of type " + schema.get("type"));
            return;
        }
        if (schema.containsKey("enum") && ((List<Object>) schema.get("enum")).stream().noneMatch(e -> same(e, value))) {
            out.add(where(path) + ": " + value + " is not one of " + schema.get("enum"));
        }
        if (schema.containsKey("const") && !same(schema.get("const"), value)) {
            out.add(where(path) + ": " + value + " is not " + schema.get("const"));
        }
        if (value instanceof Double) {
            double v = (Double) value;
            bound(schema, "minimum", v, path, out, v >= number(schema, "minimum"));
            bound(schema, "maximum", v, path, out, v <= number(schema, "maximum"));
            bound(schema, "exclusiveMinimum", v, path, out, v > number(schema, "exclusiveMinimum"));
            bound(schema, "exclusiveMaximum", v, path, out, v < number(schema, "exclusiveMaximum"));
        }
        if (value instanceof String) {
            String s = (String) value;
            if (schema.containsKey("minLength") && s.length() < number(schema, "minLength")) {
                out.add(where(path) + ": '" + s + "' is too short");
            }
            if (schema.containsKey("pattern") && !Pattern.compile((String) schema.get("pattern")).matcher(s).find()) {
                out.add(where(path) + ": '" + s + "' does not match " + schema.get("pattern"));
            }
        }
        if (value instanceof List) {
            List<Object> items = (List<Object>) value;
            if (schema.containsKey("minItems") && items.size() < number(schema, "minItems")) {
                out.add(where(path) + ": " + items + " is too short");
            }
            if (schema.containsKey("maxItems") && items.size() > number(schema, "maxItems")) {
                out.add(where(path) + ": " + items + " is too long");
            }
            List<Object> prefix = (List<Object>) schema.getOrDefault("prefixItems", new ArrayList<>());
            for (int i = 0; i < items.size(); i++) {
                Object itemSchema = i < prefix.size() ? prefix.get(i) : schema.get("items");
                if (itemSchema != null) {
                    check((Map<String, Object>) itemSchema, items.get(i), path + "." + i, out);
                }
            }
        }
        if (value instanceof Map) {
            Map<String, Object> object = (Map<String, Object>) value;
            for (Object name : (List<Object>) schema.getOrDefault("required", new ArrayList<>())) {
                if (!object.containsKey(name)) {
                    out.add(where(path) + ": '" + name + "' is a required property");
                }
            }
            Map<String, Object> properties = (Map<String, Object>) schema.getOrDefault("properties", Map.of());
            Object additional = schema.get("additionalProperties");
            for (Map.Entry<String, Object> entry : object.entrySet()) {
                String child = path + "." + entry.getKey();
                if (properties.containsKey(entry.getKey())) {
                    check((Map<String, Object>) properties.get(entry.getKey()), entry.getValue(), child, out);
                } else if (Boolean.FALSE.equals(additional)) {
                    out.add(where(path) + ": '" + entry.getKey() + "' was unexpected");
                } else if (additional instanceof Map) {
                    check((Map<String, Object>) additional, entry.getValue(), child, out);
                }
            }
        }
        if (schema.containsKey("not") && errorsOf(schema.get("not"), value, path).isEmpty()) {
            out.add(where(path) + ": " + value + " should not be valid under " + schema.get("not"));
        }
        if (schema.containsKey("oneOf")) {
            int passing = 0;
            for (Object option : (List<Object>) schema.get("oneOf")) {
                passing += errorsOf(option, value, path).isEmpty() ? 1 : 0;
            }
            if (passing != 1) {
                out.add(where(path) + ": " + value + " is valid under " + passing + " of oneOf, not exactly 1");
            }
        }
        if (schema.containsKey("if")) {
            String branch = errorsOf(schema.get("if"), value, path).isEmpty() ? "then" : "else";
            if (schema.containsKey(branch)) {
                check((Map<String, Object>) schema.get(branch), value, path, out);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private List<String> errorsOf(Object schema, Object value, String path) {
        List<String> out = new ArrayList<>();
        check((Map<String, Object>) schema, value, path, out);
        return out;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> resolve(String ref) {
        if (!ref.startsWith("#/")) {
            throw new IllegalStateException("only local $ref are supported, not " + ref);
        }
        Object node = root;
        for (String part : ref.substring(2).split("/")) {
            node = ((Map<String, Object>) node).get(part);
        }
        return (Map<String, Object>) Objects.requireNonNull(node, "unresolved $ref " + ref);
    }

    @SuppressWarnings("unchecked")
    private static boolean typeMatches(Object type, Object value) {
        if (type instanceof List) {
            return ((List<Object>) type).stream().anyMatch(t -> typeMatches(t, value));
        }
        switch ((String) type) {
            case "object": return value instanceof Map;
            case "array": return value instanceof List;
            case "string": return value instanceof String;
            case "boolean": return value instanceof Boolean;
            case "null": return value == null;
            case "number": return value instanceof Double;
            case "integer": return value instanceof Double && (Double) value == Math.rint((Double) value);
            default: throw new IllegalStateException("unknown type " + type);
        }
    }

    private static boolean same(Object a, Object b) {
        return Objects.equals(a, b);
    }

    private static double number(Map<String, Object> schema, String key) {
        Object v = schema.get(key);
        return v instanceof Double ? (Double) v : Double.NaN;
    }

    private static void bound(Map<String, Object> schema, String key, double v, String path, List<String> out, boolean ok) {
        if (schema.containsKey(key) && !ok) {
            out.add(where(path) + ": " + v + " violates " + key + " " + schema.get(key));
        }
    }

    private static String where(String path) {
        return path.isEmpty() ? "(top level)" : path.substring(1);
    }
}
