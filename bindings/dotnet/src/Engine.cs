using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using Portcullis.Native;

namespace Portcullis
{
    /// <summary>
    /// A policy engine: decides whether an agent's action may run. Backed by the native
    /// portcullis library; dispose it to release the native memory at once (a finalizer
    /// releases a forgotten one).
    /// </summary>
    /// <remarks>
    /// Every member is safe to call from many threads at once. <see cref="Dispose"/> may race
    /// with calls in flight: they complete, and the native engine is freed when the last one
    /// returns. Any call that starts after <see cref="Dispose"/> throws
    /// <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public sealed partial class Engine : IDisposable
    {
        private readonly EngineHandle handle;
        private volatile bool disposed;

        /// <summary>The rule ids and policy names of this engine's decisions, decoded once.</summary>
        private readonly NativeNames names = new NativeNames();

        private Engine(EngineHandle handle)
        {
            this.handle = handle;
        }

        /// <summary>The version of the loaded native library (e.g. <c>0.1.0</c>).</summary>
        /// <exception cref="NativeLibraryException">The native library cannot be loaded or has an incompatible ABI.</exception>
        public static string NativeVersion => NativeLoader.Version;

        /// <summary>Creates an engine from a policy document (JSON text).</summary>
        /// <param name="json">The policy document.</param>
        /// <param name="options">Clock, limits and audit trail; null for the defaults (system clock, no trail).</param>
        /// <exception cref="ArgumentNullException"><paramref name="json"/> is null.</exception>
        /// <exception cref="ArgumentException"><see cref="EngineOptions.Audit"/> has no valid sink, or a file sink has no valid path.</exception>
        /// <exception cref="PolicyException">The document does not load; <see cref="PolicyException.Path"/> says where. A bad policy never creates the audit file.</exception>
        /// <exception cref="AuditException">The audit file cannot be opened.</exception>
        /// <exception cref="InvalidArgumentException">An audit option is out of the engine's range (a queue capacity above 1,048,576), or <see cref="EngineOptions.StateUrl"/> is not a valid redis:// or rediss:// URL.</exception>
        /// <exception cref="NativeLibraryException">The native library cannot be loaded or has an incompatible ABI.</exception>
        public static Engine FromPolicy(string json, EngineOptions options = null)
        {
            if (json == null) throw new ArgumentNullException(nameof(json));
            byte[] auditPath = options != null && options.Audit != null ? options.Audit.Validate() : null;
            byte[] stateUrl = EncodeStateUrl(options != null ? options.StateUrl : null);
            NativeLoader.EnsureLoaded();
            return Create(EncodePolicy(json), options, auditPath, stateUrl);
        }

        /// <summary>The state URL as NUL-terminated UTF-8, or null for in-process state.</summary>
        private static byte[] EncodeStateUrl(string url)
        {
            if (string.IsNullOrEmpty(url)) return null;
            if (url.IndexOf('\0') >= 0) throw new InvalidArgumentException("EngineOptions.StateUrl contains a NUL character");
            byte[] bytes;
            int length;
            string problem;
            if (!Utf8.TryEncode(url, out bytes, out length, out problem))
            {
                throw new InvalidArgumentException("EngineOptions.StateUrl " + problem);
            }
            return bytes;
        }

        // Separate from FromPolicy, which must contain no P/Invoke (see NativeLoader).
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static unsafe Engine Create(byte[] policy, EngineOptions options, byte[] auditPath, byte[] stateUrl)
        {
            var native = new PortcullisEngineOptions();
            NativeMethods.portcullis_engine_options_default(&native);
            if (options != null)
            {
                if (options.ManualClockStart.HasValue)
                {
                    native.clock = NativeMethods.PORTCULLIS_CLOCK_MANUAL;
                    native.manual_start_ms = options.ManualClockStart.Value.ToUnixTimeMilliseconds();
                }
                if (options.MaxKeysPerLimit > 0) native.max_keys_per_limit = (ulong)options.MaxKeysPerLimit;
            }
            AuditOptions audit = options != null ? options.Audit : null;
            var nativeAudit = new PortcullisAuditOptions();
            NativeMethods.portcullis_audit_options_default(&nativeAudit);
            if (audit != null)
            {
                nativeAudit.sink = (uint)audit.Sink;
                nativeAudit.max_bytes = (ulong)audit.MaxBytes;
                if (audit.FlushInterval > TimeSpan.Zero) nativeAudit.flush_interval_ms = audit.FlushIntervalMs;
                if (audit.QueueCapacity > 0) nativeAudit.queue_capacity = (ulong)audit.QueueCapacity;
                nativeAudit.overflow = (uint)audit.Overflow;
                nativeAudit.fsync = audit.Fsync ? (byte)1 : (byte)0;
            }

            var engine = new EngineHandle();
            using (var error = new ErrorHandle())
            {
                int status;
                fixed (byte* text = policy)
                fixed (byte* path = auditPath)
                fixed (byte* url = stateUrl)
                {
                    // NUL-terminated (Utf8.TryEncode's spare byte); read only during the call.
                    nativeAudit.path = path;
                    native.state_url = url;
                    RuntimeHelpers.PrepareConstrainedRegions();
                    try
                    {
                    }
                    finally
                    {
                        PortcullisEngine* created = null;
                        PortcullisError* failure = null;
                        status = audit == null
                            ? NativeMethods.portcullis_engine_new(text, Length(policy), &native, &created, &failure)
                            : NativeMethods.portcullis_engine_new_audited(text, Length(policy), &native, &nativeAudit, &created, &failure);
                        engine.Attach((IntPtr)created);
                        error.Attach((IntPtr)failure);
                    }
                }
                if (status != NativeMethods.PORTCULLIS_OK)
                {
                    engine.Dispose();
                    throw ToException(status, error);
                }
                if (engine.IsInvalid) throw Failed("create an engine", status);
            }
            return new Engine(engine);
        }

        /// <summary>
        /// Replaces the policy atomically: evaluations in flight finish on the old one, later
        /// ones see the new one. Rate-limit counters of unchanged rules and approvals survive.
        /// </summary>
        /// <exception cref="ArgumentNullException"><paramref name="json"/> is null.</exception>
        /// <exception cref="PolicyException">The document does not load; the current policy stays in place.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        public unsafe void UpdatePolicy(string json)
        {
            if (json == null) throw new ArgumentNullException(nameof(json));
            byte[] policy = EncodePolicy(json);
            WithEngine(() =>
            {
                using (var error = new ErrorHandle())
                {
                    int status;
                    fixed (byte* text = policy)
                    {
                        RuntimeHelpers.PrepareConstrainedRegions();
                        try
                        {
                        }
                        finally
                        {
                            PortcullisError* failure = null;
                            status = NativeMethods.portcullis_engine_update_policy(Native, text, Length(policy), &failure);
                            error.Attach((IntPtr)failure);
                        }
                    }
                    if (status != NativeMethods.PORTCULLIS_OK) throw ToException(status, error);
                }
            });
        }

        /// <summary>
        /// Releases the native engine. Calls in flight on other threads complete first; later
        /// calls throw <see cref="ObjectDisposedException"/>. Calling it again does nothing.
        /// With a file audit trail, the records still queued are written first.
        /// </summary>
        public void Dispose()
        {
            disposed = true;
            handle.Dispose();
        }

        private unsafe PortcullisEngine* Native => (PortcullisEngine*)handle.DangerousGetHandle();

        /// <summary>
        /// Runs one call on the native engine (<see cref="Native"/>), keeping the engine alive
        /// until it returns; throws <see cref="ObjectDisposedException"/> once it is disposed.
        /// </summary>
        private T WithEngine<T>(Func<T> call)
        {
            bool added = AddRef();
            try
            {
                return call();
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
        }

        /// <summary>Runs one call that returns nothing; see <see cref="WithEngine{T}(Func{T})"/>.</summary>
        private void WithEngine(Action call)
        {
            WithEngine(() =>
            {
                call();
                return true;
            });
        }

        /// <summary>Keeps the native engine alive for one call; throws once the engine is disposed.</summary>
        private bool AddRef()
        {
            if (disposed) throw new ObjectDisposedException(nameof(Engine));
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                throw new ObjectDisposedException(nameof(Engine));
            }
            return added;
        }

        private static byte[] EncodePolicy(string json)
        {
            byte[] policy;
            int length;
            string problem;
            if (!Utf8.TryEncode(json, out policy, out length, out problem))
            {
                throw new PolicyException("", "the policy text " + problem);
            }
            return policy;
        }

        /// <summary>The text length of a buffer from <see cref="Utf8.TryEncode"/> (one spare byte).</summary>
        private static UIntPtr Length(byte[] encoded)
        {
            return (UIntPtr)(uint)(encoded.Length - 1);
        }

        /// <summary>Whole milliseconds; anything under one (including negative) becomes 0, which the engine rejects.</summary>
        private static ulong TtlMs(TimeSpan ttl)
        {
            long ms = ttl.Ticks / TimeSpan.TicksPerMillisecond;
            return ms > 0 ? (ulong)ms : 0;
        }

        /// <summary>Uses below 1 become 0, which the engine rejects.</summary>
        private static uint Uses(int uses)
        {
            return uses > 0 ? (uint)uses : 0;
        }

        private static Exception ToException(int status, ErrorHandle error)
        {
            string path = error.IsInvalid ? "" : error.Path;
            string message = error.IsInvalid ? StatusName(status) : error.Message;
            switch (status)
            {
                case NativeMethods.PORTCULLIS_ERR_POLICY: return new PolicyException(path, message);
                case NativeMethods.PORTCULLIS_ERR_INVALID_ARGUMENT: return new InvalidArgumentException(message);
                case NativeMethods.PORTCULLIS_ERR_INVALID_ACTION: return new InvalidActionException(message);
                case NativeMethods.PORTCULLIS_ERR_CLOCK: return new ClockException(message);
                case NativeMethods.PORTCULLIS_ERR_AUDIT: return new AuditException(message);
                case NativeMethods.PORTCULLIS_ERR_UNAVAILABLE: return new UnavailableException(message);
                default: return new PortcullisException(StatusName(status) + ": " + message);
            }
        }

        private static PortcullisException Failed(string what, int status)
        {
            return new PortcullisException("portcullis failed to " + what + ": " + StatusName(status));
        }

        private static unsafe string StatusName(int status)
        {
            return Utf8.FromNulTerminated((IntPtr)NativeMethods.portcullis_status_name(status));
        }
    }
}
