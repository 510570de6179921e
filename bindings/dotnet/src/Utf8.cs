using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Portcullis
{
    /// <summary>UTF-8 conversions at the native boundary.</summary>
    internal static class Utf8
    {
        // Throws on a lone surrogate instead of silently writing U+FFFD: the engine must judge
        // exactly the text the caller gave.
        private static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>
        /// Encodes <paramref name="text"/> as UTF-8 into a buffer one byte longer than the text,
        /// so that even "" has an address to pin (a pinned empty array is a NULL pointer).
        /// Returns false, and where the lone surrogate is, when the text is not valid UTF-16.
        /// </summary>
        internal static bool TryEncode(string text, out byte[] buffer, out int length, out string problem)
        {
            try
            {
                length = Strict.GetByteCount(text);
                buffer = new byte[length + 1];
                Strict.GetBytes(text, 0, text.Length, buffer, 0);
                problem = null;
                return true;
            }
            catch (EncoderFallbackException e)
            {
                char unit = e.CharUnknownHigh != '\0' ? e.CharUnknownHigh : e.CharUnknown;
                buffer = null;
                length = 0;
                problem = "contains a lone surrogate (U+" + ((int)unit).ToString("X4") + ") at index " + e.Index +
                          ", which UTF-8 cannot encode";
                return false;
            }
        }

        /// <summary>The UTF-8 length of the first <paramref name="count"/> chars (valid UTF-16).</summary>
        internal static int ByteCount(char[] chars, int count)
        {
            return Strict.GetByteCount(chars, 0, count);
        }

        /// <summary>Encodes the first <paramref name="count"/> chars (valid UTF-16) into <paramref name="bytes"/>; returns the byte count.</summary>
        internal static int Encode(char[] chars, int count, byte[] bytes)
        {
            return Strict.GetBytes(chars, 0, count, bytes, 0);
        }

        /// <summary>Decodes <paramref name="length"/> bytes of UTF-8.</summary>
        internal static unsafe string Decode(byte* data, int length)
        {
            if (length == 0) return string.Empty;
            // Most of what the engine returns (rule ids, hashes, reasons) is short ASCII: widen it
            // directly, which is several times faster than the encoder on Mono.
            if (length <= 256)
            {
                char* chars = stackalloc char[length];
                int i = 0;
                for (; i < length && data[i] < 0x80; i++) chars[i] = (char)data[i];
                if (i == length) return new string(chars, 0, length);
            }
            return Strict.GetString(data, length);
        }

        /// <summary>Decodes a NUL-terminated UTF-8 string; NULL gives "".</summary>
        internal static unsafe string FromNulTerminated(IntPtr text)
        {
            if (text == IntPtr.Zero) return string.Empty;
            byte* start = (byte*)text;
            int length = 0;
            while (start[length] != 0) length++;
            return Decode(start, length);
        }
    }
}
