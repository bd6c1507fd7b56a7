package dev.personseg.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
    @Test
    public void readsNestedValues() {
        Map<?, ?> root = (Map<?, ?>) Json.parse(" {\"a\": [1, -2.5e2, true, null], \"b\": {\"c\": \"x\\ny\\u0041\\/\"}, \"d\": []} ");
        assertEquals(Arrays.asList(1.0, -250.0, true, null), root.get("a"));
        assertEquals("x\nyA/", ((Map<?, ?>) root.get("b")).get("c"));
        assertTrue(((List<?>) root.get("d")).isEmpty());
    }

    @Test
    public void readsPythonNonFiniteFloats() {
        List<?> values = (List<?>) Json.parse("[NaN, Infinity, -Infinity]");
        assertTrue(((Double) values.get(0)).isNaN());
        assertEquals(Double.POSITIVE_INFINITY, values.get(1));
        assertEquals(Double.NEGATIVE_INFINITY, values.get(2));
    }

    @Test
    public void readsScalarsAtTopLevel() {
        assertNull(Json.parse("null"));
        assertEquals(0.0, Json.parse("0"));
        assertEquals("", Json.parse("\"\""));
    }

    @Test
    public void rejectsMalformedInputWithItsOffset() {
        for (String bad : new String[] {"", "{", "{\"a\" 1}", "[1,]", "[1 2]", "01", ".5", "1.", "\"abc", "tru", "{} x",
                "\"\\x\"", "{1: 2}", "\"a\tb\""}) {
            IllegalArgumentException err = assertThrows(bad, IllegalArgumentException.class, () -> Json.parse(bad));
            assertTrue(err.getMessage(), err.getMessage().startsWith("invalid JSON at offset"));
        }
    }
}
