using System;
using System.Collections.Concurrent;
using Portcullis.Native;

namespace Portcullis
{
    /// <summary>
    /// Decodes the strings of one engine's decisions, keeping those that repeat: rule ids by
    /// address (the engine interns them: one id has one address until the engine is freed) and
    /// the policy name and version of the latest decision by content.
    /// </summary>
    internal sealed class NativeNames
    {
        private readonly ConcurrentDictionary<IntPtr, string> rules = new ConcurrentDictionary<IntPtr, string>();
        private volatile PolicyNames policy;

        private sealed class PolicyNames
        {
            internal byte[] NameBytes;
            internal string Name;
            internal byte[] VersionBytes; // null: no version
            internal string Version;
        }

        /// <summary>A rule id the engine interned (<c>len</c> bytes at <c>ptr</c>).</summary>
        internal unsafe string Rule(byte* ptr, UIntPtr len)
        {
            string id;
            if (rules.TryGetValue((IntPtr)ptr, out id)) return id;
            id = Utf8.Decode(ptr, Length(len));
            rules.TryAdd((IntPtr)ptr, id);
            return id;
        }

        /// <summary>A rule id of the details, or null when absent.</summary>
        internal unsafe string Rule(PortcullisStr text)
        {
            return text.ptr == null ? null : Rule(text.ptr, text.len);
        }

        /// <summary>The policy name and version, reusing the previous decision's strings while they are the same.</summary>
        internal unsafe void Policy(PortcullisStr name, PortcullisStr version, out string nameText, out string versionText)
        {
            PolicyNames last = policy;
            if (last != null && Same(last.NameBytes, name) && Same(last.VersionBytes, version))
            {
                nameText = last.Name;
                versionText = last.Version;
                return;
            }
            var next = new PolicyNames
            {
                NameBytes = Bytes(name),
                VersionBytes = Bytes(version),
            };
            next.Name = Text(name) ?? "";
            next.Version = Text(version);
            policy = next;
            nameText = next.Name;
            versionText = next.Version;
        }

        /// <summary>A lent string as .NET text; null when absent.</summary>
        internal static unsafe string Text(PortcullisStr text)
        {
            return text.ptr == null ? null : Utf8.Decode(text.ptr, Length(text.len));
        }

        private static int Length(UIntPtr len)
        {
            ulong n = len.ToUInt64();
            if (n > int.MaxValue) throw new PortcullisException("the native library returned a string of " + n + " bytes");
            return (int)n;
        }

        private static unsafe byte[] Bytes(PortcullisStr text)
        {
            if (text.ptr == null) return null;
            var bytes = new byte[Length(text.len)];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = text.ptr[i];
            return bytes;
        }

        private static unsafe bool Same(byte[] bytes, PortcullisStr text)
        {
            if (bytes == null || text.ptr == null) return bytes == null && text.ptr == null;
            if ((ulong)bytes.Length != text.len.ToUInt64()) return false;
            for (int i = 0; i < bytes.Length; i++)
            {
                if (bytes[i] != text.ptr[i]) return false;
            }
            return true;
        }
    }
}
