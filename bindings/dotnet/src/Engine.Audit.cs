using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using Portcullis.Native;

namespace Portcullis
{
    // The audit trail: draining, flushing, counters.
    public sealed partial class Engine
    {
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
    }
}
