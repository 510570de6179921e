using System;
using System.Runtime.InteropServices;
using System.Threading;
using Portcullis.Native;

namespace Portcullis
{
    /// <summary>
    /// Owns one native object and frees it exactly once: on <see cref="SafeHandle.Dispose()"/>,
    /// or from the finalizer when the owner forgot. A call in flight holds a reference
    /// (<see cref="SafeHandle.DangerousAddRef"/>), so disposing during it defers the free
    /// until it returns.
    /// </summary>
    internal abstract class NativeHandle : SafeHandle
    {
        private static long live;

        protected NativeHandle() : base(IntPtr.Zero, true)
        {
        }

        /// <summary>How many native objects of any kind this process holds right now (a test hook).</summary>
        internal static long LiveCount => Interlocked.Read(ref live);

        public override bool IsInvalid => handle == IntPtr.Zero;

        /// <summary>
        /// Takes ownership of <paramref name="pointer"/> (NULL leaves the handle invalid). Call
        /// it in the same <c>finally</c> block as the native call that produced the pointer,
        /// so no asynchronous exception can fall between the two.
        /// </summary>
        internal void Attach(IntPtr pointer)
        {
            if (pointer == IntPtr.Zero) return;
            SetHandle(pointer);
            Interlocked.Increment(ref live);
        }

        protected sealed override bool ReleaseHandle()
        {
            Free(handle);
            Interlocked.Decrement(ref live);
            return true;
        }

        /// <summary>Frees the native object.</summary>
        protected abstract void Free(IntPtr pointer);
    }

    /// <summary>An <c>portcullis_engine</c>.</summary>
    internal sealed class EngineHandle : NativeHandle
    {
        protected override unsafe void Free(IntPtr pointer)
        {
            NativeMethods.portcullis_engine_free((PortcullisEngine*)pointer);
        }
    }

    /// <summary>An <c>portcullis_error</c>: its status, path and message.</summary>
    internal sealed class ErrorHandle : NativeHandle
    {
        protected override unsafe void Free(IntPtr pointer)
        {
            NativeMethods.portcullis_error_free((PortcullisError*)pointer);
        }

        /// <summary>The status the error reports.</summary>
        internal unsafe int Status => NativeMethods.portcullis_error_status((PortcullisError*)handle);

        /// <summary>Where in the policy document the error is ("" when not about a document).</summary>
        internal unsafe string Path => Utf8.FromNulTerminated((IntPtr)NativeMethods.portcullis_error_path((PortcullisError*)handle));

        /// <summary>What went wrong.</summary>
        internal unsafe string Message => Utf8.FromNulTerminated((IntPtr)NativeMethods.portcullis_error_message((PortcullisError*)handle));
    }

    /// <summary>An <c>portcullis_buffer</c> of UTF-8 text.</summary>
    internal sealed class BufferHandle : NativeHandle
    {
        protected override unsafe void Free(IntPtr pointer)
        {
            NativeMethods.portcullis_buffer_free((PortcullisBuffer*)pointer);
        }

        /// <summary>The buffer's text.</summary>
        internal unsafe string Text
        {
            get
            {
                byte* data = NativeMethods.portcullis_buffer_data((PortcullisBuffer*)handle);
                ulong length = NativeMethods.portcullis_buffer_len((PortcullisBuffer*)handle).ToUInt64();
                if (length > int.MaxValue) throw new PortcullisException("a native buffer of " + length + " bytes is too large");
                return Utf8.Decode(data, (int)length);
            }
        }
    }
}
