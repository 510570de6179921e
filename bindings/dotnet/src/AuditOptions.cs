using System;

namespace Portcullis
{
    /// <summary>Where an engine's audit records go.</summary>
    /// <remarks>The values are the C ABI's; 0 is not a sink, so an unset <see cref="AuditOptions.Sink"/> is an error.</remarks>
    public enum AuditSink
    {
        /// <summary>An append-only file (<see cref="AuditOptions.Path"/>) written by a background thread of the engine.</summary>
        File = 1,

        /// <summary>The engine's queue, emptied by <see cref="Engine.DrainAudit"/>.</summary>
        Memory = 2,
    }

    /// <summary>What an evaluation does when the audit queue is full.</summary>
    public enum AuditOverflow
    {
        /// <summary>
        /// Wait for room: no record is ever lost (the default). With <see cref="AuditSink.Memory"/>,
        /// evaluations wait once <see cref="AuditOptions.QueueCapacity"/> records are not drained.
        /// </summary>
        Block = 0,

        /// <summary>Never wait: the record is dropped and counted, and the trail gets a "dropped" record with the count.</summary>
        Drop = 1,
    }

    /// <summary>
    /// The audit trail of an engine (<see cref="EngineOptions.Audit"/>): every decision becomes one
    /// JSON line of a tamper-evident chain.
    /// </summary>
    /// <remarks>
    /// A record holds <c>seq</c> (1, 2, ... without gaps), <c>type</c>, <c>time</c>, <c>agent</c>,
    /// <c>kind</c>, <c>tool</c>, <c>target</c>, <c>effect</c>, <c>code</c>, <c>rule</c>, <c>reason</c>,
    /// <c>policy</c>, <c>action_hash</c>, <c>eval_ns</c>, <c>prev</c> (the previous record's hash) and
    /// <c>hash</c>. Parameter values appear only for the paths the policy lists in
    /// <c>audit.include_params</c>; nothing else of the arguments or the context is written.
    /// <c>portcullis audit verify</c> checks a trail.
    /// </remarks>
    public sealed class AuditOptions
    {
        private long maxBytes;
        private TimeSpan flushInterval;
        private int queueCapacity;

        /// <summary>Where records go: <see cref="AuditSink.File"/> or <see cref="AuditSink.Memory"/> (required).</summary>
        public AuditSink Sink { get; set; }

        /// <summary>
        /// The trail file for <see cref="AuditSink.File"/>: created when missing, appended to otherwise
        /// (the chain continues from its last record).
        /// </summary>
        public string Path { get; set; }

        /// <summary>
        /// Rotate the file once it holds at least this many bytes: it is renamed <c>Path.000001</c>
        /// (then <c>.000002</c>, ...) and a new file continues the chain. 0 (the default) never rotates.
        /// </summary>
        /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
        public long MaxBytes
        {
            get { return maxBytes; }
            set
            {
                if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "MaxBytes must be 0 (never rotate) or positive");
                maxBytes = value;
            }
        }

        /// <summary>
        /// How often, at least, written records reach the file; <see cref="TimeSpan.Zero"/> (the
        /// default) means 200 ms. Rounded up to whole milliseconds.
        /// </summary>
        /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
        public TimeSpan FlushInterval
        {
            get { return flushInterval; }
            set
            {
                if (value < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), value, "FlushInterval must not be negative");
                flushInterval = value;
            }
        }

        /// <summary>
        /// Records that may wait before <see cref="Overflow"/> applies; 0 (the default) means 65,536.
        /// The engine accepts at most 1,048,576 (<see cref="InvalidArgumentException"/> otherwise).
        /// </summary>
        /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
        public int QueueCapacity
        {
            get { return queueCapacity; }
            set
            {
                if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "QueueCapacity must be 0 (the default) or positive");
                queueCapacity = value;
            }
        }

        /// <summary>What an evaluation does when the queue is full (default <see cref="AuditOverflow.Block"/>).</summary>
        public AuditOverflow Overflow { get; set; }

        /// <summary>Sync the file to the device after every batch written.</summary>
        public bool Fsync { get; set; }

        /// <summary>Whole milliseconds of <see cref="FlushInterval"/>, rounded up.</summary>
        internal ulong FlushIntervalMs => (ulong)((flushInterval.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond);

        /// <summary>Throws unless the options describe a trail; returns the file path's UTF-8 bytes (NUL-terminated), or null for a memory sink.</summary>
        internal byte[] Validate()
        {
            if (Overflow != AuditOverflow.Block && Overflow != AuditOverflow.Drop)
            {
                throw new ArgumentException("AuditOptions.Overflow is " + (int)Overflow + "; use AuditOverflow.Block or AuditOverflow.Drop", "options");
            }
            if (Sink == AuditSink.Memory) return null;
            if (Sink != AuditSink.File)
            {
                throw new ArgumentException("AuditOptions.Sink is " + (int)Sink + "; use AuditSink.File or AuditSink.Memory", "options");
            }
            if (string.IsNullOrEmpty(Path)) throw new ArgumentException("AuditSink.File needs AuditOptions.Path", "options");
            if (Path.IndexOf('\0') >= 0) throw new ArgumentException("AuditOptions.Path contains a NUL character", "options");
            byte[] path;
            int length;
            string problem;
            if (!Utf8.TryEncode(Path, out path, out length, out problem))
            {
                throw new ArgumentException("AuditOptions.Path " + problem, "options");
            }
            return path;
        }
    }

    /// <summary>An engine's audit counters (<see cref="Engine.AuditStats"/>).</summary>
    public struct AuditStats : IEquatable<AuditStats>
    {
        /// <summary>Creates the counters.</summary>
        public AuditStats(long recorded, long dropped)
        {
            Recorded = recorded;
            Dropped = dropped;
        }

        /// <summary>Decision records written to the file, or handed out by <see cref="Engine.DrainAudit"/>.</summary>
        public long Recorded { get; }

        /// <summary>Decision records dropped because the queue was full (<see cref="AuditOverflow.Drop"/>).</summary>
        public long Dropped { get; }

        /// <inheritdoc/>
        public bool Equals(AuditStats other)
        {
            return Recorded == other.Recorded && Dropped == other.Dropped;
        }

        /// <inheritdoc/>
        public override bool Equals(object obj)
        {
            return obj is AuditStats && Equals((AuditStats)obj);
        }

        /// <inheritdoc/>
        public override int GetHashCode()
        {
            return Recorded.GetHashCode() * 31 + Dropped.GetHashCode();
        }

        /// <inheritdoc/>
        public override string ToString()
        {
            return Recorded + " recorded, " + Dropped + " dropped";
        }
    }
}
