using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using Portcullis.Native;

namespace Portcullis
{
    // Approvals and the engine clock.
    public sealed partial class Engine
    {
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
        /// <exception cref="UnavailableException">The engine keeps its grants in a shared store (<see cref="EngineOptions.StateUrl"/>) that did not answer in time; nothing was granted.</exception>
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
        /// <exception cref="UnavailableException">The engine keeps its grants in a shared store (<see cref="EngineOptions.StateUrl"/>) that did not answer in time; nothing was granted.</exception>
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
        /// <exception cref="UnavailableException">The engine keeps its grants in a shared store (<see cref="EngineOptions.StateUrl"/>) that did not answer in time; nothing was granted.</exception>
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
    }
}
