using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace Portcullis
{
    /// <summary>
    /// A .NET value that has no JSON form: a non-finite number, a type the writer does not
    /// know, a dictionary key that is not a string, or nesting deeper than an action allows.
    /// </summary>
    internal sealed class UnrepresentableValueException : Exception
    {
        internal UnrepresentableValueException(string path, string problem)
            : base(path + ": " + problem)
        {
            Path = path;
            Problem = problem;
        }

        /// <summary>Where the value is, in the dotted form of policy paths (<c>params.limit</c>).</summary>
        internal string Path { get; }

        /// <summary>What is wrong with it.</summary>
        internal string Problem { get; }
    }

    /// <summary>
    /// Writes .NET values as compact JSON text.
    /// </summary>
    /// <remarks>
    /// Supported: null, <see cref="string"/>, <see cref="char"/>, <see cref="bool"/>, every
    /// integer type, <see cref="float"/>, <see cref="double"/> and <see cref="decimal"/>
    /// (finite only), <see cref="JsonNumber"/> (its exact text), enums (their name),
    /// <see cref="Guid"/>, <see cref="DateTime"/> and <see cref="DateTimeOffset"/> (ISO 8601),
    /// <see cref="Uri"/> (its original text), string-keyed dictionaries (including any
    /// <c>IEnumerable&lt;KeyValuePair&lt;string, object&gt;&gt;</c>), other enumerables (as
    /// arrays) and <c>System.Text.Json.JsonElement</c> (its raw JSON). Strings are written as
    /// they are: a lone surrogate becomes a <c>\uXXXX</c> escape, never a replacement
    /// character, so the engine sees exactly what the caller passed.
    /// </remarks>
    internal sealed class JsonWriter
    {
        private readonly StringBuilder output;
        private readonly int maxDepth;
        private readonly int maxChars;
        private readonly List<string> path = new List<string>();

        private JsonWriter(StringBuilder output, int maxDepth, int maxChars)
        {
            this.output = output;
            this.maxDepth = maxDepth;
            this.maxChars = maxChars;
        }

        /// <summary>Stops an endless or oversized enumeration: every UTF-16 unit is at least one UTF-8 byte.</summary>
        private void CheckLength()
        {
            if (output.Length > maxChars)
            {
                throw Unrepresentable("the action is larger than " + maxChars.ToString(CultureInfo.InvariantCulture) + " bytes (an endless enumeration?)");
            }
        }

        /// <summary>Writes <paramref name="value"/> as compact JSON.</summary>
        /// <param name="value">The value.</param>
        /// <param name="maxDepth">Containers nested deeper than this (the outermost is level 1) are rejected.</param>
        /// <param name="rootName">How the value is named in error paths (e.g. <c>params</c>); "" for none.</param>
        /// <exception cref="UnrepresentableValueException">The value has no JSON form.</exception>
        /// <param name="maxChars">Output longer than this is rejected (bounds endless enumerables).</param>
        internal static string Write(object value, int maxDepth = JsonReader.MaxDepth, string rootName = "", int maxChars = int.MaxValue)
        {
            var builder = new StringBuilder();
            var writer = new JsonWriter(builder, maxDepth, maxChars);
            if (rootName.Length > 0) writer.path.Add(rootName);
            writer.WriteValue(value, 1);
            return builder.ToString();
        }

        /// <summary>A writer that appends to <paramref name="output"/>, for a caller that writes the enclosing object itself.</summary>
        internal static JsonWriter Appending(StringBuilder output, int maxDepth, int maxChars)
        {
            return new JsonWriter(output, maxDepth, maxChars);
        }

        /// <summary>Appends the value of the member <paramref name="name"/> (named so in error paths) at nesting level <paramref name="depth"/>.</summary>
        /// <exception cref="UnrepresentableValueException">The value has no JSON form.</exception>
        internal void WriteMember(string name, object value, int depth)
        {
            path.Add(name);
            WriteValue(value, depth);
            path.RemoveAt(path.Count - 1);
            CheckLength();
        }

        /// <summary>Appends <paramref name="value"/> as a JSON string literal.</summary>
        internal static void WriteString(StringBuilder output, string value)
        {
            output.Append('"');
            int runStart = 0;
            for (int i = 0; i < value.Length; i++)
            {
                char c = value[i];
                string escape = null;
                if (c == '"') escape = "\\\"";
                else if (c == '\\') escape = "\\\\";
                else if (c < 0x20)
                {
                    switch (c)
                    {
                        case '\b': escape = "\\b"; break;
                        case '\f': escape = "\\f"; break;
                        case '\n': escape = "\\n"; break;
                        case '\r': escape = "\\r"; break;
                        case '\t': escape = "\\t"; break;
                        default: escape = UnicodeEscape(c); break;
                    }
                }
                else if (char.IsHighSurrogate(c))
                {
                    if (i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                    {
                        i++; // a valid pair is written as it is
                        continue;
                    }
                    escape = UnicodeEscape(c);
                }
                else if (char.IsLowSurrogate(c))
                {
                    escape = UnicodeEscape(c);
                }
                if (escape == null) continue;
                output.Append(value, runStart, i - runStart);
                output.Append(escape);
                runStart = i + 1;
            }
            output.Append(value, runStart, value.Length - runStart);
            output.Append('"');
        }

        private static string UnicodeEscape(char c)
        {
            return "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture);
        }

        /// <summary>The shortest text that reads back as exactly <paramref name="value"/>.</summary>
        internal static string FormatDouble(double value)
        {
            // Some runtimes write a negative zero as "0".
            if (value == 0) return BitConverter.DoubleToInt64Bits(value) < 0 ? "-0" : "0";
            // "R" is meant to round-trip but some runtimes miss by one ulp; G17 always does.
            string shortest = value.ToString("R", CultureInfo.InvariantCulture);
            double back;
            if (double.TryParse(shortest, NumberStyles.Float, CultureInfo.InvariantCulture, out back) && back.Equals(value))
            {
                return shortest;
            }
            return value.ToString("G17", CultureInfo.InvariantCulture);
        }

        private static string FormatSingle(float value)
        {
            string shortest = value.ToString("R", CultureInfo.InvariantCulture);
            float back;
            if (float.TryParse(shortest, NumberStyles.Float, CultureInfo.InvariantCulture, out back) && back.Equals(value))
            {
                return shortest;
            }
            return value.ToString("G9", CultureInfo.InvariantCulture);
        }

        private string CurrentPath()
        {
            var text = new StringBuilder();
            foreach (string segment in path)
            {
                if (segment.StartsWith("[", StringComparison.Ordinal) || text.Length == 0) text.Append(segment);
                else text.Append('.').Append(segment);
            }
            return text.Length == 0 ? "(value)" : text.ToString();
        }

        private UnrepresentableValueException Unrepresentable(string problem)
        {
            return new UnrepresentableValueException(CurrentPath(), problem);
        }

        private void WriteValue(object value, int depth)
        {
            if (value == null || value is DBNull)
            {
                output.Append("null");
                return;
            }
            var s = value as string;
            if (s != null)
            {
                WriteString(output, s);
                return;
            }
            if (value is bool)
            {
                output.Append((bool)value ? "true" : "false");
                return;
            }
            if (WriteNumber(value)) return;
            if (value is char)
            {
                WriteString(output, value.ToString());
                return;
            }
            if (value is Enum)
            {
                WriteString(output, value.ToString());
                return;
            }
            if (value is Guid)
            {
                WriteString(output, ((Guid)value).ToString("D"));
                return;
            }
            if (value is DateTimeOffset)
            {
                WriteString(output, ((DateTimeOffset)value).ToString("o", CultureInfo.InvariantCulture));
                return;
            }
            if (value is DateTime)
            {
                WriteString(output, ((DateTime)value).ToString("o", CultureInfo.InvariantCulture));
                return;
            }
            var uri = value as Uri;
            if (uri != null)
            {
                WriteString(output, uri.OriginalString);
                return;
            }
            if (WriteJsonElement(value, depth)) return;

            if (depth > maxDepth) throw Unrepresentable("nested deeper than " + maxDepth + " levels");
            var pairs = value as IEnumerable<KeyValuePair<string, object>>;
            if (pairs != null)
            {
                WriteObject(pairs, depth);
                return;
            }
            var dictionary = value as IDictionary;
            if (dictionary != null)
            {
                WriteObject(dictionary, depth);
                return;
            }
            var sequence = value as IEnumerable;
            if (sequence != null)
            {
                WriteArray(sequence, depth);
                return;
            }
            throw Unrepresentable("a value of type " + value.GetType().FullName + " has no JSON form");
        }

        private bool WriteNumber(object value)
        {
            var number = value as JsonNumber;
            if (number != null)
            {
                output.Append(number.Text);
                return true;
            }
            switch (Type.GetTypeCode(value.GetType()))
            {
                case TypeCode.SByte:
                case TypeCode.Byte:
                case TypeCode.Int16:
                case TypeCode.UInt16:
                case TypeCode.Int32:
                case TypeCode.UInt32:
                case TypeCode.Int64:
                case TypeCode.UInt64:
                    if (value is Enum) return false;
                    output.Append(((IFormattable)value).ToString(null, CultureInfo.InvariantCulture));
                    return true;
                case TypeCode.Decimal:
                    output.Append(((decimal)value).ToString(CultureInfo.InvariantCulture));
                    return true;
                case TypeCode.Single:
                    float f = (float)value;
                    if (float.IsNaN(f) || float.IsInfinity(f)) throw Unrepresentable(f + " is not a finite number");
                    output.Append(FormatSingle(f));
                    return true;
                case TypeCode.Double:
                    double d = (double)value;
                    if (double.IsNaN(d) || double.IsInfinity(d)) throw Unrepresentable(d.ToString(CultureInfo.InvariantCulture) + " is not a finite number");
                    output.Append(FormatDouble(d));
                    return true;
                default:
                    return false;
            }
        }

        /// <summary>
        /// Writes a <c>System.Text.Json.JsonElement</c> (what JSON-based frameworks such as
        /// Semantic Kernel hand over as arguments) by its raw text, found by reflection so that
        /// this library does not depend on System.Text.Json.
        /// </summary>
        private bool WriteJsonElement(object value, int depth)
        {
            Type type = value.GetType();
            // JsonElement is a struct: dictionaries, lists and other classes are never one, and
            // Type.FullName is slow on Mono (it is built anew on each call).
            if (!type.IsValueType || type.Name != "JsonElement" || type.FullName != "System.Text.Json.JsonElement") return false;
            MethodInfo getRawText = type.GetMethod("GetRawText", Type.EmptyTypes);
            if (getRawText == null) return false;
            string raw = (string)getRawText.Invoke(value, null);
            object parsed;
            try
            {
                parsed = JsonReader.Parse(raw, JsonNumbers.Preserve);
            }
            catch (JsonFormatException e)
            {
                throw Unrepresentable("a JsonElement whose raw text is not JSON (" + e.Message + ")");
            }
            WriteValue(parsed, depth);
            return true;
        }

        private void WriteObject(IEnumerable<KeyValuePair<string, object>> pairs, int depth)
        {
            output.Append('{');
            bool first = true;
            foreach (var pair in pairs)
            {
                CheckLength();
                if (pair.Key == null) throw Unrepresentable("a dictionary key is null");
                if (!first) output.Append(',');
                first = false;
                WriteString(output, pair.Key);
                output.Append(':');
                path.Add(pair.Key);
                WriteValue(pair.Value, depth + 1);
                path.RemoveAt(path.Count - 1);
            }
            output.Append('}');
        }

        private void WriteObject(IDictionary dictionary, int depth)
        {
            output.Append('{');
            bool first = true;
            foreach (DictionaryEntry entry in dictionary)
            {
                CheckLength();
                var key = entry.Key as string;
                if (key == null) throw Unrepresentable("a dictionary key of type " + entry.Key.GetType().FullName + " is not a string");
                if (!first) output.Append(',');
                first = false;
                WriteString(output, key);
                output.Append(':');
                path.Add(key);
                WriteValue(entry.Value, depth + 1);
                path.RemoveAt(path.Count - 1);
            }
            output.Append('}');
        }

        private void WriteArray(IEnumerable sequence, int depth)
        {
            output.Append('[');
            int i = 0;
            foreach (object item in sequence)
            {
                CheckLength();
                if (i > 0) output.Append(',');
                path.Add("[" + i.ToString(CultureInfo.InvariantCulture) + "]");
                WriteValue(item, depth + 1);
                path.RemoveAt(path.Count - 1);
                i++;
            }
            output.Append(']');
            CheckLength();
        }
    }
}
