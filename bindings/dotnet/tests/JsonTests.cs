using System;
using System.Collections.Generic;
using System.Text;

namespace Portcullis.Tests
{
    /// <summary>The JSON reader and writer used for actions and decisions.</summary>
    internal static class JsonTests
    {
        [Test]
        public static void Reads_every_kind_of_value()
        {
            var root = (IDictionary<string, object>)JsonReader.Parse(" {\"s\": \"x\", \"t\": true, \"f\": false, \"n\": null, \"i\": -42, \"d\": 2.5, \"a\": [1, {}], \"o\": {\"k\": []}} ");
            Assert.Sequence(new[] { "s", "t", "f", "n", "i", "d", "a", "o" }, root.Keys, "keys in document order");
            Assert.Equal<object>("x", root["s"], "string");
            Assert.Equal<object>(true, root["t"], "true");
            Assert.Equal<object>(false, root["f"], "false");
            Assert.Equal(null, root["n"], "null");
            Assert.Equal<object>(-42L, root["i"], "integer");
            Assert.Equal<object>(2.5, root["d"], "fraction");
            Assert.Equal(2, ((List<object>)root["a"]).Count, "array");
            Assert.Equal(0, ((List<object>)((IDictionary<string, object>)root["o"])["k"]).Count, "nested");
        }

        [Test]
        public static void Reads_numbers_exactly()
        {
            Assert.Equal<object>(9007199254740993L, JsonReader.Parse("9007199254740993"), "an integer beyond 2^53 stays exact as a long");
            Assert.Equal<object>(long.MinValue, JsonReader.Parse("-9223372036854775808"), "long.MinValue");
            Assert.Equal<object>(9223372036854775808.0, JsonReader.Parse("9223372036854775808"), "beyond long: a double");
            Assert.Equal<object>(100.0, JsonReader.Parse("1e2"), "an exponent makes a double");
            Assert.Equal<object>(0.1, JsonReader.Parse("0.1"), "0.1");
            Assert.Equal<object>(5e-324, JsonReader.Parse("5e-324"), "the smallest subnormal");
            Assert.Equal<object>(1.7976931348623157e308, JsonReader.Parse("1.7976931348623157e308"), "double.MaxValue");
            Assert.True(BitConverter.DoubleToInt64Bits((double)JsonReader.Parse("-0.0")) < 0, "-0.0 keeps its sign");
            Assert.Throws<JsonFormatException>(() => JsonReader.Parse("1e400"), "out of range of a double");
            Assert.Equal(new JsonNumber("1e400"), JsonReader.Parse("1e400", JsonNumbers.Preserve), "preserved as text");
            Assert.Equal(new JsonNumber("1.0"), JsonReader.Parse("1.0", JsonNumbers.Preserve), "1.0 keeps its text");
        }

        [Test]
        public static void Reads_escapes_and_surrogates()
        {
            Assert.Equal<object>("a\"b\\c/d\b\f\n\r\t", JsonReader.Parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""), "simple escapes");
            Assert.Equal<object>("\u00e9\u4e2d", JsonReader.Parse("\"\\u00E9\\u4e2d\""), "BMP escapes, either case");
            Assert.Equal<object>("\ud83d\ude00", JsonReader.Parse("\"\\ud83d\\ude00\""), "an escaped surrogate pair");
            Assert.Equal<object>("\ud83d\ude00", JsonReader.Parse("\"\ud83d\ude00\""), "a raw pair");
            Assert.Equal<object>("x\ud800y", JsonReader.Parse("\"x\\ud800y\""), "an escaped lone surrogate is kept for the engine to judge");
        }

        [Test]
        public static void Rejects_what_rfc_8259_rejects()
        {
            var bad = new Dictionary<string, string>
            {
                { "empty", "" }, { "trailing comma in object", "{\"a\": 1,}" }, { "trailing comma in array", "[1,]" },
                { "leading zero", "01" }, { "bare minus", "-" }, { "dot without digits", "1." }, { "leading dot", ".5" },
                { "plus sign", "+1" }, { "exponent without digits", "1e" }, { "NaN", "NaN" }, { "single quotes", "'a'" },
                { "unquoted key", "{a: 1}" }, { "raw control character", "\"a\u0001b\"" }, { "bad escape", "\"\\x\"" },
                { "short unicode escape", "\"\\u12\"" }, { "unterminated string", "\"abc" }, { "unterminated array", "[1" },
                { "two values", "1 2" }, { "comment", "1 // c" }, { "duplicate key", "{\"a\": 1, \"a\": 2}" }, { "tru", "tru" },
            };
            foreach (var entry in bad) Assert.Throws<JsonFormatException>(() => JsonReader.Parse(entry.Value), entry.Key);
            string deep = new string('[', JsonReader.MaxDepth + 1) + new string(']', JsonReader.MaxDepth + 1);
            Assert.Throws<JsonFormatException>(() => JsonReader.Parse(deep), "nesting past the reader's limit");
            string deepest = new string('[', JsonReader.MaxDepth) + new string(']', JsonReader.MaxDepth);
            JsonReader.Parse(deepest);
        }

        [Test]
        public static void Mutated_documents_are_read_or_rejected_never_crash()
        {
            string[] seeds =
            {
                "{\"tool\": \"t\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"x\": [1, -2.5e3, true, null, \"\\u00e9\\n\"]}}",
                "[{\"a\": {}}, [], \"\\ud83d\\ude00\", 0, -0.0, 1E+2]",
            };
            const string alphabet = "{}[]\",:\\/ \t\n0123456789.eE+-truefalsnu\u00e9\ud800";
            var random = new Random(3);
            int accepted = 0, rejected = 0;
            for (int i = 0; i < 20000; i++)
            {
                var text = new StringBuilder(seeds[i % seeds.Length]);
                int edits = random.Next(1, 4);
                for (int e = 0; e < edits && text.Length > 0; e++)
                {
                    int at = random.Next(text.Length);
                    switch (random.Next(3))
                    {
                        case 0: text.Remove(at, 1); break;
                        case 1: text.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                        default: text[at] = alphabet[random.Next(alphabet.Length)]; break;
                    }
                }
                try
                {
                    object value = JsonReader.Parse(text.ToString(), i % 2 == 0 ? JsonNumbers.Convert : JsonNumbers.Preserve);
                    JsonWriter.Write(value);
                    accepted++;
                }
                catch (JsonFormatException)
                {
                    rejected++;
                }
            }
            Assert.True(accepted > 100 && rejected > 100, "both outcomes occur (" + accepted + " read, " + rejected + " rejected)");
        }

        [Test]
        public static void Writes_strings_with_the_required_escapes_only()
        {
            Assert.Equal("\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f \u007f\u2028\u00e9\"", JsonWriter.Write("a\"b\\c/d\b\f\n\r\t\u0001\u001f \u007f\u2028\u00e9"), "escapes");
            Assert.Equal("\"\ud83d\ude00\"", JsonWriter.Write("\ud83d\ude00"), "a valid pair is written as it is");
            Assert.Equal("\"a\\ud800b\\udc00\"", JsonWriter.Write("a\ud800b\udc00"), "lone surrogates become escapes, never U+FFFD");
            Assert.Equal("\"\\udc00\\ud800\"", JsonWriter.Write("\udc00\ud800"), "a reversed pair is two lone surrogates");
        }

        [Test]
        public static void Writes_numbers_exactly()
        {
            Assert.Equal("[0.1,1E-300,1.7976931348623157E+308,-0,0,3,255,-7,18446744073709551615,0.1,12.345678901234567890123]",
                JsonWriter.Write(new object[] { 0.1, 1e-300, double.MaxValue, -0.0, 0.0, 3, (byte)255, (short)-7, ulong.MaxValue, 0.1f, 12.345678901234567890123m }),
                "numbers");
            Assert.Equal<object>(5e-324, JsonReader.Parse(JsonWriter.Write(5e-324)), "the smallest subnormal round-trips");
            var random = new Random(7);
            var buffer = new byte[8];
            for (int i = 0; i < 20000; i++)
            {
                random.NextBytes(buffer);
                double value = BitConverter.ToDouble(buffer, 0);
                if (double.IsNaN(value) || double.IsInfinity(value)) continue;
                object back = JsonReader.Parse(JsonWriter.Write(value));
                double read = back is long ? (long)back : (double)back;
                Assert.Equal(BitConverter.DoubleToInt64Bits(value), BitConverter.DoubleToInt64Bits(read), "round trip of " + value.ToString("R"));
            }
        }

        [Test]
        public static void Random_strings_round_trip()
        {
            var random = new Random(11);
            for (int i = 0; i < 5000; i++)
            {
                var text = new StringBuilder();
                int length = random.Next(0, 12);
                for (int j = 0; j < length; j++)
                {
                    int pick = random.Next(6);
                    if (pick == 0) text.Append((char)random.Next(0, 0x20));
                    else if (pick == 1) text.Append((char)random.Next(0xD800, 0xE000));
                    else if (pick == 2) text.Append("\"\\/");
                    else if (pick == 3) text.Append(char.ConvertFromUtf32(random.Next(0x10000, 0x110000)));
                    else text.Append((char)random.Next(0x20, 0xD800));
                }
                string original = text.ToString();
                Assert.Equal<object>(original, JsonReader.Parse(JsonWriter.Write(original)), "round trip");
            }
        }

        [Test]
        public static void Writes_dotnet_values()
        {
            var values = new Dictionary<string, object>
            {
                { "null", null }, { "bool", true }, { "char", 'c' }, { "enum", DayOfWeek.Friday },
                { "guid", new Guid("00112233-4455-6677-8899-aabbccddeeff") },
                { "offset", new DateTimeOffset(2026, 5, 22, 17, 5, 0, TimeSpan.FromHours(2)) },
                { "uri", new Uri("https://a.example/x?y=%20") },
                { "hashtable", new System.Collections.Hashtable { { "k", 1 } } },
                { "list", new List<int> { 1, 2 } },
                { "dbnull", DBNull.Value },
                { "preserved", new JsonNumber("1.50") },
            };
            Assert.Equal(
                "{\"null\":null,\"bool\":true,\"char\":\"c\",\"enum\":\"Friday\",\"guid\":\"00112233-4455-6677-8899-aabbccddeeff\"," +
                "\"offset\":\"2026-05-22T17:05:00.0000000+02:00\",\"uri\":\"https://a.example/x?y=%20\",\"hashtable\":{\"k\":1}," +
                "\"list\":[1,2],\"dbnull\":null,\"preserved\":1.50}",
                JsonWriter.Write(values), "JSON");
        }

        [Test]
        public static void Unrepresentable_values_name_their_path()
        {
            var e = Assert.Throws<UnrepresentableValueException>(() => JsonWriter.Write(new Dictionary<string, object> { { "a", new object[] { 1, double.NegativeInfinity } } }, 64, "params"), "infinity");
            Assert.Equal("params.a[1]", e.Path, "path");
            Assert.Contains("-Infinity is not a finite number", e.Problem, "problem");
            e = Assert.Throws<UnrepresentableValueException>(() => JsonWriter.Write(new System.Collections.Hashtable { { 1, "x" } }), "non-string key");
            Assert.Contains("is not a string", e.Problem, "problem");
            e = Assert.Throws<UnrepresentableValueException>(() => JsonWriter.Write(new[] { TimeSpan.Zero }), "unknown type");
            Assert.Contains("System.TimeSpan has no JSON form", e.Problem, "problem");
            var cycle = new Dictionary<string, object>();
            cycle["self"] = cycle;
            e = Assert.Throws<UnrepresentableValueException>(() => JsonWriter.Write(cycle, 64), "cycle");
            Assert.Contains("nested deeper than 64 levels", e.Problem, "problem");
        }

        [Test]
        public static void A_json_element_is_written_by_its_raw_text()
        {
            var element = new System.Text.Json.JsonElement("{\"n\": 1.0e0, \"s\": \"\\u00e9\"}");
            Assert.Equal("{\"v\":{\"n\":1.0e0,\"s\":\"\u00e9\"}}", JsonWriter.Write(new Dictionary<string, object> { { "v", element } }), "raw text, numbers kept");
            var broken = new System.Text.Json.JsonElement("{oops");
            Assert.Throws<UnrepresentableValueException>(() => JsonWriter.Write(broken), "an element that is not JSON");
        }

        [Test]
        public static void A_tool_call_becomes_the_action_object()
        {
            var call = new ToolCall("database.write", "agent-1", new Dictionary<string, object> { { "table", "users" } })
            {
                Kind = ActionKind.Message,
                Target = "agent-2",
                Context = new Dictionary<string, object> { { "tenant", "acme" } },
                Timestamp = new DateTimeOffset(2026, 5, 22, 19, 5, 0, 250, TimeSpan.FromHours(2)),
            };
            Assert.Equal(
                "{\"kind\":\"message\",\"tool\":\"database.write\",\"agent\":{\"id\":\"agent-1\"},\"target\":\"agent-2\"," +
                "\"params\":{\"table\":\"users\"},\"context\":{\"tenant\":\"acme\"},\"timestamp\":\"2026-05-22T17:05:00.250Z\"}",
                call.ToJson(), "action JSON");
            Assert.Equal("{\"tool\":\"t\",\"agent\":{\"id\":\"a\"}}", new ToolCall("t", "a").ToJson(), "a minimal call");
            Assert.Equal("{\"agent\":{}}", new ToolCall(null, null).ToJson(), "missing fields are left for the engine to reject");
            var e = Assert.Throws<InvalidActionException>(() => new ToolCall("t", "a", new Dictionary<string, object> { { "x", float.NaN } }).ToJson(), "NaN");
            Assert.Contains("params.x", e.Message, "message");
        }
    }
}

namespace System.Text.Json
{
    /// <summary>Stands in for System.Text.Json's JsonElement (not on Mono): the writer finds it by name and GetRawText.</summary>
    internal struct JsonElement
    {
        private readonly string raw;

        internal JsonElement(string raw)
        {
            this.raw = raw;
        }

        public string GetRawText()
        {
            return raw;
        }
    }
}
