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
    public sealed class Engine : IDisposable
    {
        private readonly EngineHandle handle;
        private volatile bool disposed;

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

        /// <summary>Decides an action given as JSON text (the policy language's action object).</summary>
        /// <returns>
        /// The decision. A malformed action (not JSON, not an object, a missing <c>tool</c> or
        /// <c>agent.id</c>, a wrong type, ...) is not an exception: it is a deny with code
        /// <see cref="DecisionCode.InvalidAction"/> whose <see cref="Decision.Reason"/> says what is wrong.
        /// </returns>
        /// <exception cref="ArgumentNullException"><paramref name="actionJson"/> is null.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="PortcullisException">The native engine failed during the call.</exception>
        public Decision Evaluate(string actionJson)
        {
            return Decision.FromJson(EvaluateJson(actionJson));
        }

        /// <summary>Decides a tool call.</summary>
        /// <returns>
        /// The decision. A call the engine cannot accept (no tool, no agent id, an argument
        /// with no JSON form such as NaN) is a deny with code <see cref="DecisionCode.InvalidAction"/>.
        /// </returns>
        /// <exception cref="ArgumentNullException"><paramref name="call"/> is null.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="PortcullisException">The native engine failed during the call.</exception>
        public Decision Evaluate(ToolCall call)
        {
            if (call == null) throw new ArgumentNullException(nameof(call));
            string json, problem;
            if (call.TryToJson(out json, out problem)) return Evaluate(json);
            return DenyInvalid(problem);
        }

        /// <summary>
        /// Decides an action given as JSON text and returns the decision as the engine wrote
        /// it: the policy language's decision object as compact JSON (for audit logs or to pass on).
        /// </summary>
        /// <exception cref="ArgumentNullException"><paramref name="actionJson"/> is null.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="PortcullisException">The native engine failed during the call.</exception>
        public unsafe string EvaluateJson(string actionJson)
        {
            if (actionJson == null) throw new ArgumentNullException(nameof(actionJson));
            byte[] action;
            int length;
            string problem;
            if (!Utf8.TryEncode(actionJson, out action, out length, out problem))
            {
                return DenyInvalid("the action text " + problem).Json;
            }
            return TextCall("evaluate", action, length, NativeMethods.portcullis_engine_evaluate_json);
        }

        /// <summary>
        /// Explains the decision for an action given as JSON text, as JSON text: the rules the
        /// index offered and skipped, each rule's match and conditions with the values read, the
        /// combining steps, and the decision <see cref="EvaluateJson"/> would return now (see
        /// docs/cli/explain.md). A dry run: no rate limit is used, no approval consumed, no audit
        /// record written. A malformed action is explained as its invalid_action decision.
        /// </summary>
        /// <exception cref="ArgumentNullException"><paramref name="actionJson"/> is null.</exception>
        /// <exception cref="InvalidArgumentException">The text has a lone surrogate (it has no UTF-8 form).</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="PortcullisException">The native engine failed during the call.</exception>
        public unsafe string ExplainJson(string actionJson)
        {
            if (actionJson == null) throw new ArgumentNullException(nameof(actionJson));
            byte[] action;
            int length;
            string problem;
            if (!Utf8.TryEncode(actionJson, out action, out length, out problem))
            {
                throw new InvalidArgumentException("the action text " + problem);
            }
            return TextCall("explain", action, length, NativeMethods.portcullis_engine_explain);
        }

        private unsafe delegate int TextExport(PortcullisEngine* engine, byte* text, UIntPtr length, PortcullisBuffer** json);

        /// <summary>Calls an export that reads UTF-8 text and writes a JSON buffer; returns the buffer's text.</summary>
        private unsafe string TextCall(string what, byte[] action, int length, TextExport export)
        {
            return WithEngine(() =>
            {
                using (var buffer = new BufferHandle())
                {
                    int status;
                    fixed (byte* text = action)
                    {
                        RuntimeHelpers.PrepareConstrainedRegions();
                        try
                        {
                        }
                        finally
                        {
                            PortcullisBuffer* json = null;
                            status = export(Native, text, (UIntPtr)(uint)length, &json);
                            buffer.Attach((IntPtr)json);
                        }
                    }
                    if (status != NativeMethods.PORTCULLIS_OK || buffer.IsInvalid) throw Failed(what, status);
                    return buffer.Text;
                }
            });
        }

        /// <summary>
        /// Approves exactly this action (JSON text) for <paramref name="ttl"/> of the engine's
        /// clock and <paramref name="uses"/> allowed evaluations. The approval binds to the
        /// action's hash (agent, kind, params, target, tool): any other action is not covered.
        /// Approvals turn require_approval into allow; they never override a deny.
        /// </summary>
        /// <returns>The action hash (<c>sha256:</c> + 64 hex digits), as in <see cref="Decision.ActionHash"/>.</returns>
        /// <exception cref="ArgumentNullException"><paramref name="actionJson"/> is null.</exception>
        /// <exception cref="InvalidArgumentException"><paramref name="ttl"/> is under one millisecond or <paramref name="uses"/> under 1.</exception>
        /// <exception cref="InvalidActionException">The action is malformed.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        public unsafe string Approve(string actionJson, TimeSpan ttl, int uses = 1)
        {
            if (actionJson == null) throw new ArgumentNullException(nameof(actionJson));
            byte[] action;
            int length;
            string problem;
            if (!Utf8.TryEncode(actionJson, out action, out length, out problem))
            {
                throw new InvalidActionException("the action text " + problem);
            }
            return WithEngine(() =>
            {
                using (var hash = new BufferHandle())
                using (var error = new ErrorHandle())
                {
                    int status;
                    fixed (byte* text = action)
                    {
                        RuntimeHelpers.PrepareConstrainedRegions();
                        try
                        {
                        }
                        finally
                        {
                            PortcullisBuffer* created = null;
                            PortcullisError* failure = null;
                            status = NativeMethods.portcullis_engine_approve_action(
                                Native, text, (UIntPtr)(uint)length, TtlMs(ttl), Uses(uses), &created, &failure);
                            hash.Attach((IntPtr)created);
                            error.Attach((IntPtr)failure);
                        }
                    }
                    if (status != NativeMethods.PORTCULLIS_OK) throw ToException(status, error);
                    if (hash.IsInvalid) throw Failed("approve", status);
                    return hash.Text;
                }
            });
        }

        /// <summary>Approves exactly this tool call; see <see cref="Approve(string, TimeSpan, int)"/>.</summary>
        /// <exception cref="ArgumentNullException"><paramref name="call"/> is null.</exception>
        /// <exception cref="InvalidArgumentException"><paramref name="ttl"/> is under one millisecond or <paramref name="uses"/> under 1.</exception>
        /// <exception cref="InvalidActionException">The call is not a valid action (e.g. no tool, an argument with no JSON form).</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        public string Approve(ToolCall call, TimeSpan ttl, int uses = 1)
        {
            if (call == null) throw new ArgumentNullException(nameof(call));
            return Approve(call.ToJson(), ttl, uses);
        }

        /// <summary>
        /// Approves the action whose hash is <paramref name="hash"/> (from
        /// <see cref="Decision.ActionHash"/>, e.g. shown to a reviewer) for <paramref name="ttl"/>
        /// and <paramref name="uses"/> allowed evaluations.
        /// </summary>
        /// <exception cref="ArgumentNullException"><paramref name="hash"/> is null.</exception>
        /// <exception cref="InvalidArgumentException">The hash is not <c>sha256:</c> + 64 lowercase hex digits, <paramref name="ttl"/> is under one millisecond, or <paramref name="uses"/> under 1.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        public unsafe void ApproveHash(string hash, TimeSpan ttl, int uses = 1)
        {
            if (hash == null) throw new ArgumentNullException(nameof(hash));
            byte[] bytes;
            int length;
            string problem;
            if (!Utf8.TryEncode(hash, out bytes, out length, out problem))
            {
                throw new InvalidArgumentException("the action hash " + problem);
            }
            WithEngine(() =>
            {
                using (var error = new ErrorHandle())
                {
                    int status;
                    fixed (byte* text = bytes)
                    {
                        RuntimeHelpers.PrepareConstrainedRegions();
                        try
                        {
                        }
                        finally
                        {
                            PortcullisError* failure = null;
                            status = NativeMethods.portcullis_engine_approve_hash(
                                Native, text, (UIntPtr)(uint)length, TtlMs(ttl), Uses(uses), &failure);
                            error.Attach((IntPtr)failure);
                        }
                    }
                    if (status != NativeMethods.PORTCULLIS_OK) throw ToException(status, error);
                }
            });
        }

        /// <summary>Sets the manual clock (time windows, rate limits and approval expiry read it).</summary>
        /// <exception cref="ClockException">The engine reads the system clock (no <see cref="EngineOptions.ManualClockStart"/>).</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        public unsafe void SetTime(DateTimeOffset time)
        {
            WithEngine(() =>
            {
                int status = NativeMethods.portcullis_engine_set_time(Native, time.ToUnixTimeMilliseconds());
                if (status == NativeMethods.PORTCULLIS_ERR_CLOCK)
                {
                    throw new ClockException("this engine reads the system clock; create it with EngineOptions.ManualClockStart to set the time");
                }
                if (status != NativeMethods.PORTCULLIS_OK) throw Failed("set the time", status);
            });
        }

        /// <summary>The engine's current time (millisecond precision): the system clock, or the manual clock.</summary>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        public unsafe DateTimeOffset Now
        {
            get
            {
                return WithEngine(() =>
                {
                    long now;
                    int status = NativeMethods.portcullis_engine_now(Native, &now);
                    if (status != NativeMethods.PORTCULLIS_OK) throw Failed("read the clock", status);
                    return DateTimeOffset.FromUnixTimeMilliseconds(now);
                });
            }
        }

        /// <summary>
        /// Takes up to <paramref name="max"/> records from the in-memory audit trail
        /// (<see cref="AuditSink.Memory"/>), in chain order: each a JSON object, without the
        /// trailing newline. Records taken are gone from the engine; concurrent calls each get
        /// a part of the chain and never the same record.
        /// </summary>
        /// <remarks>
        /// When records were dropped since the last call (<see cref="AuditOverflow.Drop"/>), a
        /// "dropped" record with the count comes first and counts toward <paramref name="max"/>.
        /// An engine with a file sink or without a trail gives no records. Drain regularly: with
        /// <see cref="AuditOverflow.Block"/> a full queue makes evaluations wait, and records not
        /// drained are lost when the engine is disposed.
        /// </remarks>
        /// <exception cref="ArgumentOutOfRangeException"><paramref name="max"/> is under 1.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        public unsafe IReadOnlyList<string> DrainAudit(int max = 1024)
        {
            if (max < 1) throw new ArgumentOutOfRangeException(nameof(max), max, "DrainAudit needs max >= 1");
            return WithEngine(() =>
            {
                using (var buffer = new BufferHandle())
                {
                    int status;
                    UIntPtr count = UIntPtr.Zero;
                    RuntimeHelpers.PrepareConstrainedRegions();
                    try
                    {
                    }
                    finally
                    {
                        PortcullisBuffer* lines = null;
                        status = NativeMethods.portcullis_engine_drain_audit(Native, (UIntPtr)(uint)max, &lines, &count);
                        buffer.Attach((IntPtr)lines);
                    }
                    if (status != NativeMethods.PORTCULLIS_OK || buffer.IsInvalid) throw Failed("drain the audit trail", status);
                    string text = buffer.Text;
                    var records = new List<string>((int)count.ToUInt32());
                    for (int start = 0; start < text.Length;)
                    {
                        int end = text.IndexOf('\n', start);
                        if (end < 0) throw new PortcullisException("portcullis returned an audit record without its newline");
                        records.Add(text.Substring(start, end - start));
                        start = end + 1;
                    }
                    if ((ulong)records.Count != count.ToUInt64())
                    {
                        throw new PortcullisException("portcullis reported " + count + " audit records and sent " + records.Count);
                    }
                    return records.AsReadOnly();
                }
            });
        }

        /// <summary>
        /// Waits until every decision made so far is written to the audit file and handed to
        /// the operating system (with <see cref="AuditOptions.Fsync"/>, synced to the device).
        /// Does nothing for a memory sink or an engine without a trail.
        /// </summary>
        /// <exception cref="AuditException">The audit file cannot be written.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        public unsafe void FlushAudit()
        {
            WithEngine(() =>
            {
                using (var error = new ErrorHandle())
                {
                    int status;
                    RuntimeHelpers.PrepareConstrainedRegions();
                    try
                    {
                    }
                    finally
                    {
                        PortcullisError* failure = null;
                        status = NativeMethods.portcullis_engine_flush_audit(Native, &failure);
                        error.Attach((IntPtr)failure);
                    }
                    if (status != NativeMethods.PORTCULLIS_OK) throw ToException(status, error);
                }
            });
        }

        /// <summary>
        /// The audit counters (zero without a trail). Once every record is written
        /// (<see cref="FlushAudit"/>) or drained, <c>Recorded + Dropped</c> is the number of decisions.
        /// </summary>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        public unsafe AuditStats AuditStats
        {
            get
            {
                return WithEngine(() =>
                {
                    PortcullisAuditStats stats;
                    int status = NativeMethods.portcullis_engine_audit_stats(Native, &stats);
                    if (status != NativeMethods.PORTCULLIS_OK) throw Failed("read the audit counters", status);
                    return new AuditStats((long)stats.recorded, (long)stats.dropped);
                });
            }
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

        /// <summary>
        /// A deny for an action the binding cannot hand over as it is (a lone surrogate, a
        /// value with no JSON form). The engine itself decides on an action that is not an
        /// object, so the effect, code and policy fields are its own; the reason names what
        /// was wrong with the caller's value.
        /// </summary>
        private Decision DenyInvalid(string problem)
        {
            Decision engineDecision = Decision.FromJson(EvaluateJson("null"));
            if (engineDecision.Code != DecisionCode.InvalidAction)
            {
                throw new PortcullisException("the engine did not reject an action that is not an object: " + engineDecision.Json);
            }
            return engineDecision.WithReason(problem);
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
