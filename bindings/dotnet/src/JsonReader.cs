using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Portcullis
{
    /// <summary>How <see cref="JsonReader"/> represents JSON numbers.</summary>
    internal enum JsonNumbers
    {
        /// <summary>An integer that fits becomes a <see cref="long"/>, any other number a <see cref="double"/>.</summary>
        Convert,
        /// <summary>Every number becomes a <see cref="JsonNumber"/> that keeps its exact text.</summary>
        Preserve,
    }

    /// <summary>The text is not valid JSON (RFC 8259).</summary>
    internal sealed class JsonFormatException : FormatException
    {
        internal JsonFormatException(string message, int offset)
            : base(message + " at offset " + offset.ToString(CultureInfo.InvariantCulture))
        {
            Offset = offset;
        }

        /// <summary>The index in the text where the error was found.</summary>
        internal int Offset { get; }
    }

    /// <summary>
    /// A strict RFC 8259 reader. Objects become <see cref="JsonObject"/> (document order kept,
    /// duplicate keys rejected), arrays <c>List&lt;object&gt;</c>, strings <see cref="string"/>
    /// (escaped lone surrogates are kept as they are), literals <see cref="bool"/> or null.
    /// </summary>
    internal sealed class JsonReader
    {
        /// <summary>Nesting deeper than this is rejected instead of risking the stack.</summary>
        internal const int MaxDepth = 512;

        private readonly string text;
        private readonly JsonNumbers numbers;
        private StringBuilder scratch;
        private int pos;

        private JsonReader(string text, JsonNumbers numbers)
        {
            this.text = text;
            this.numbers = numbers;
        }

        /// <summary>Parses one JSON value that makes up the whole of <paramref name="text"/>.</summary>
        /// <exception cref="JsonFormatException">The text is not exactly one valid JSON value.</exception>
        internal static object Parse(string text, JsonNumbers numbers = JsonNumbers.Convert)
        {
            if (text == null) throw new ArgumentNullException(nameof(text));
            var reader = new JsonReader(text, numbers);
            reader.SkipWhitespace();
            object value = reader.ReadValue(1);
            reader.SkipWhitespace();
            if (reader.pos != text.Length) throw reader.Error("unexpected text after the JSON value");
            return value;
        }

        private JsonFormatException Error(string message)
        {
            return new JsonFormatException(message, pos);
        }

        // The hot loops work on locals: Mono keeps those in registers, fields it reloads every time.
        private void SkipWhitespace()
        {
            string s = text;
            int i = pos;
            while (i < s.Length)
            {
                char c = s[i];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
                i++;
            }
            pos = i;
        }

        private object ReadValue(int depth)
        {
            if (pos >= text.Length) throw Error("unexpected end of text");
            char c = text[pos];
            switch (c)
            {
                case '{': return ReadObject(depth);
                case '[': return ReadArray(depth);
                case '"': return ReadString();
                case 't': ReadLiteral("true"); return true;
                case 'f': ReadLiteral("false"); return false;
                case 'n': ReadLiteral("null"); return null;
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                    throw Error("unexpected character '" + c + "'");
            }
        }

        private void ReadLiteral(string literal)
        {
            if (string.CompareOrdinal(text, pos, literal, 0, literal.Length) != 0) throw Error("invalid literal");
            pos += literal.Length;
        }

        private JsonObject ReadObject(int depth)
        {
            if (depth > MaxDepth) throw Error("nested deeper than " + MaxDepth + " levels");
            pos++; // '{'
            var result = new JsonObject();
            SkipWhitespace();
            if (pos < text.Length && text[pos] == '}')
            {
                pos++;
                return result;
            }
            while (true)
            {
                SkipWhitespace();
                if (pos >= text.Length || text[pos] != '"') throw Error("expected a string key");
                int keyStart = pos;
                string key = ReadString();
                SkipWhitespace();
                if (pos >= text.Length || text[pos] != ':') throw Error("expected ':'");
                pos++;
                SkipWhitespace();
                object value = ReadValue(depth + 1);
                if (result.ContainsKey(key))
                {
                    pos = keyStart;
                    throw Error("duplicate key \"" + key + "\"");
                }
                result.Add(key, value);
                SkipWhitespace();
                if (pos >= text.Length) throw Error("unexpected end of text in an object");
                char c = text[pos++];
                if (c == '}') return result;
                if (c != ',') { pos--; throw Error("expected ',' or '}'"); }
            }
        }

        private List<object> ReadArray(int depth)
        {
            if (depth > MaxDepth) throw Error("nested deeper than " + MaxDepth + " levels");
            pos++; // '['
            var result = new List<object>();
            SkipWhitespace();
            if (pos < text.Length && text[pos] == ']')
            {
                pos++;
                return result;
            }
            while (true)
            {
                SkipWhitespace();
                result.Add(ReadValue(depth + 1));
                SkipWhitespace();
                if (pos >= text.Length) throw Error("unexpected end of text in an array");
                char c = text[pos++];
                if (c == ']') return result;
                if (c != ',') { pos--; throw Error("expected ',' or ']'"); }
            }
        }

        private string ReadString()
        {
            int start = pos + 1; // after the opening quote
            // Fast path: no escapes.
            string s = text;
            int i = start;
            while (i < s.Length)
            {
                char c = s[i];
                if (c == '"')
                {
                    pos = i + 1;
                    return s.Substring(start, i - start);
                }
                if (c == '\\') break;
                if (c < 0x20)
                {
                    pos = i;
                    throw Error("unescaped control character in a string");
                }
                i++;
            }
            pos = i;
            if (scratch == null) scratch = new StringBuilder();
            scratch.Clear();
            scratch.Append(text, start, pos - start);
            while (pos < text.Length)
            {
                char c = text[pos++];
                if (c == '"') return scratch.ToString();
                if (c < 0x20) { pos--; throw Error("unescaped control character in a string"); }
                if (c != '\\')
                {
                    scratch.Append(c);
                    continue;
                }
                if (pos >= text.Length) break;
                char e = text[pos++];
                switch (e)
                {
                    case '"': scratch.Append('"'); break;
                    case '\\': scratch.Append('\\'); break;
                    case '/': scratch.Append('/'); break;
                    case 'b': scratch.Append('\b'); break;
                    case 'f': scratch.Append('\f'); break;
                    case 'n': scratch.Append('\n'); break;
                    case 'r': scratch.Append('\r'); break;
                    case 't': scratch.Append('\t'); break;
                    case 'u':
                        // UTF-16 code units: an escaped surrogate pair becomes a pair; an escaped
                        // lone surrogate stays lone, for the engine to judge.
                        scratch.Append((char)ReadHex4());
                        break;
                    default:
                        pos--;
                        throw Error("invalid escape '\\" + e + "'");
                }
            }
            throw Error("unterminated string");
        }

        private int ReadHex4()
        {
            if (pos + 4 > text.Length) throw Error("truncated \\u escape");
            int value = 0;
            for (int i = 0; i < 4; i++)
            {
                char h = text[pos++];
                int digit;
                if (h >= '0' && h <= '9') digit = h - '0';
                else if (h >= 'a' && h <= 'f') digit = h - 'a' + 10;
                else if (h >= 'A' && h <= 'F') digit = h - 'A' + 10;
                else { pos--; throw Error("invalid hex digit in a \\u escape"); }
                value = (value << 4) | digit;
            }
            return value;
        }

        private object ReadNumber()
        {
            int start = pos;
            bool integral = true;
            if (text[pos] == '-') pos++;
            if (pos >= text.Length) throw Error("truncated number");
            if (text[pos] == '0')
            {
                pos++;
            }
            else if (text[pos] >= '1' && text[pos] <= '9')
            {
                while (pos < text.Length && IsDigit(text[pos])) pos++;
            }
            else
            {
                throw Error("invalid number");
            }
            if (pos < text.Length && text[pos] == '.')
            {
                integral = false;
                pos++;
                if (pos >= text.Length || !IsDigit(text[pos])) throw Error("a digit must follow the decimal point");
                while (pos < text.Length && IsDigit(text[pos])) pos++;
            }
            if (pos < text.Length && (text[pos] == 'e' || text[pos] == 'E'))
            {
                integral = false;
                pos++;
                if (pos < text.Length && (text[pos] == '+' || text[pos] == '-')) pos++;
                if (pos >= text.Length || !IsDigit(text[pos])) throw Error("a digit must follow the exponent");
                while (pos < text.Length && IsDigit(text[pos])) pos++;
            }
            string literal = text.Substring(start, pos - start);
            if (numbers == JsonNumbers.Preserve) return new JsonNumber(literal);
            long asLong;
            if (integral && long.TryParse(literal, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out asLong))
            {
                return asLong;
            }
            double asDouble;
            if (!JsonNumber.TryParseDouble(literal, out asDouble))
            {
                pos = start;
                throw Error("number " + literal + " is out of the range of a double");
            }
            return asDouble;
        }

        private static bool IsDigit(char c)
        {
            return c >= '0' && c <= '9';
        }
    }

    /// <summary>A JSON number kept as its exact text.</summary>
    internal sealed class JsonNumber : IEquatable<JsonNumber>
    {
        internal JsonNumber(string text)
        {
            Text = text;
        }

        /// <summary>The number exactly as written in the document.</summary>
        internal string Text { get; }

        /// <summary>
        /// Parses a JSON number literal as the nearest double. Returns false when it is out of
        /// range (the runtime may report that as an overflow or as an infinity).
        /// </summary>
        internal static bool TryParseDouble(string literal, out double value)
        {
            try
            {
                value = double.Parse(literal, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
            catch (OverflowException)
            {
                value = 0;
                return false;
            }
            // Some runtimes drop the sign of a negative zero.
            if (value == 0 && literal.StartsWith("-", StringComparison.Ordinal)) value = -0.0;
            return !double.IsInfinity(value) && !double.IsNaN(value);
        }

        public bool Equals(JsonNumber other)
        {
            return other != null && other.Text == Text;
        }

        public override bool Equals(object obj)
        {
            return Equals(obj as JsonNumber);
        }

        public override int GetHashCode()
        {
            return Text.GetHashCode();
        }

        public override string ToString()
        {
            return Text;
        }
    }
}
