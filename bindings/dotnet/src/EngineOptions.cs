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
    }
}
