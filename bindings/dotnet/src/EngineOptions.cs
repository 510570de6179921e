using System;

namespace Portcullis
{
    /// <summary>How an <see cref="Engine"/> is created.</summary>
    public sealed class EngineOptions
    {
        private int maxKeysPerLimit;

        /// <summary>
        /// Null (the default): the engine reads the system clock. Set: the engine has a
        /// manual clock that starts at this instant and moves only through
        /// <see cref="Engine.SetTime"/>, for tests and simulations.
        /// </summary>
        public DateTimeOffset? ManualClockStart { get; set; }

        /// <summary>
        /// The most keys each rate-limit rule keeps (counters for distinct agents, tools, ...);
        /// 0 (the default) means the engine's default of 100,000. When no key can be dropped, a
        /// new key is denied as rate-limited (fail closed).
        /// </summary>
        /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
        public int MaxKeysPerLimit
        {
            get { return maxKeysPerLimit; }
            set
            {
                if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "MaxKeysPerLimit must be 0 (the default) or positive");
                maxKeysPerLimit = value;
            }
        }

        /// <summary>
        /// Null (the default): no audit trail. Set: the engine records every decision it makes in
        /// the trail these options describe (see <see cref="AuditOptions"/>).
        /// </summary>
        public AuditOptions Audit { get; set; }

        /// <summary>
        /// Null or empty (the default): rate-limit admissions and approval grants are kept in this
        /// engine. Set: they are kept in the store this URL names, shared by every engine (in any
        /// process) created with it: <c>redis://[user:password@]host[:port][/db]</c> or
        /// <c>rediss://...</c> for TLS, with the query parameters of docs/shared-state.md
        /// (<c>timeout_ms</c>, <c>prefix</c>, <c>cluster</c>, <c>tls_ca</c>). A malformed URL makes
        /// <see cref="Engine.FromPolicy"/> throw <see cref="InvalidArgumentException"/>; a store
        /// that is down does not: decisions that need it are denied with
        /// <see cref="DecisionCode.Unavailable"/> until it answers again.
        /// </summary>
        public string StateUrl { get; set; }
    }
}
