using Portcullis.Native;

namespace Portcullis
{
    /// <summary>
    /// The part of a decision a host needs to act on it, as <see cref="Engine.EvaluateVerdict(string)"/>
    /// returns it: no reason, rule lists, rewritten params or action hash.
    /// </summary>
    public struct Verdict
    {
        /// <summary>Allow, deny or require approval.</summary>
        public Effect Effect { get; private set; }

        /// <summary>True only when <see cref="Effect"/> is <see cref="Portcullis.Effect.Allow"/>.</summary>
        public bool Allowed { get; private set; }

        /// <summary>Why, as in <see cref="Decision.Code"/>.</summary>
        public DecisionCode Code { get; private set; }

        /// <summary>The id of the deciding rule, or null when no rule decided.</summary>
        public string Rule { get; private set; }

        /// <summary>For a rate-limited deny: milliseconds until the limit admits again; otherwise null.</summary>
        public long? RetryAfterMs { get; private set; }

        /// <summary>
        /// True when an allow rule rewrote the params: the action must run with the rewritten
        /// params, which only <see cref="Decision.Params"/> carries.
        /// </summary>
        public bool ParamsModified { get; private set; }

        /// <summary>How many rules are in <see cref="Decision.Matched"/>.</summary>
        public int MatchedCount { get; private set; }

        /// <summary>How many rules are in <see cref="Decision.Shadow"/>.</summary>
        public int ShadowCount { get; private set; }

        /// <summary>How long the evaluation took inside the engine, in nanoseconds.</summary>
        public long EvalNs { get; private set; }

        /// <inheritdoc />
        public override string ToString()
        {
            return Effect.WireName() + " (" + Code.WireName() + (Rule == null ? "" : " " + Rule) + ")";
        }

        /// <summary>Copies a native verdict.</summary>
        /// <exception cref="PortcullisException">It holds a value this binding does not know (a binding and library mismatch).</exception>
        internal static unsafe Verdict FromNative(PortcullisDecision* d, NativeNames names)
        {
            if (d->effect > (uint)Effect.RequireApproval || d->code > (uint)DecisionCode.Unavailable ||
                (d->allowed == 1) != (d->effect == NativeMethods.PORTCULLIS_EFFECT_ALLOW))
            {
                throw new PortcullisException("the native library returned a decision this binding cannot read (effect " +
                                              d->effect + ", allowed " + d->allowed + ", code " + d->code + ")");
            }
            var v = new Verdict
            {
                Effect = (Effect)d->effect,
                Allowed = d->allowed == 1,
                Code = (DecisionCode)d->code,
                Rule = d->has_rule == 1 ? names.Rule(d->rule, d->rule_len) : null,
                ParamsModified = d->params_modified == 1,
                MatchedCount = (int)d->matched_count,
                ShadowCount = (int)d->shadow_count,
                EvalNs = (long)d->eval_ns,
            };
            if (d->has_retry_after == 1) v.RetryAfterMs = (long)d->retry_after_ms;
            return v;
        }
    }
}
