using System;
using System.Runtime.InteropServices;
using System.Threading;
using AgentGate.Native;

namespace AgentGate
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

    /// <summary>An <c>ag_engine</c>.</summary>
    internal sealed class EngineHandle : NativeHandle
    {
        protected override unsafe void Free(IntPtr pointer)
        {
            NativeMethods.ag_engine_free((AgEngine*)pointer);
        }
    }

    /// <summary>An <c>ag_error</c>: its status, path and message.</summary>
    internal sealed class ErrorHandle : NativeHandle
    {
        protected override unsafe void Free(IntPtr pointer)
        {
            NativeMethods.ag_error_free((AgError*)pointer);
        }

        /// <summary>The status the error reports.</summary>
        internal unsafe int Status => NativeMethods.ag_error_status((AgError*)handle);

        /// <summary>Where in the policy document the error is ("" when not about a document).</summary>
        internal unsafe string Path => Utf8.FromNulTerminated((IntPtr)NativeMethods.ag_error_path((AgError*)handle));

        /// <summary>What went wrong.</summary>
        internal unsafe string Message => Utf8.FromNulTerminated((IntPtr)NativeMethods.ag_error_message((AgError*)handle));
    }

    /// <summary>An <c>ag_buffer</c> of UTF-8 text.</summary>
    internal sealed class BufferHandle : NativeHandle
    {
        protected override unsafe void Free(IntPtr pointer)
        {
            NativeMethods.ag_buffer_free((AgBuffer*)pointer);
        }

        /// <summary>The buffer's text.</summary>
        internal unsafe string Text
        {
            get
            {
                byte* data = NativeMethods.ag_buffer_data((AgBuffer*)handle);
                ulong length = NativeMethods.ag_buffer_len((AgBuffer*)handle).ToUInt64();
                if (length > int.MaxValue) throw new AgentGateException("a native buffer of " + length + " bytes is too large");
                return Utf8.Decode(data, (int)length);
            }
        }
    }
}
