using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;

namespace Portcullis
{
    /// <summary>What happens to the action.</summary>
    public enum Effect
    {
        /// <summary>The action may run (with <see cref="Decision.Params"/> when the policy rewrote them).</summary>
        Allow = 0,
        /// <summary>The action must not run.</summary>
        Deny = 1,
        /// <summary>The action may run only once approved (<see cref="Engine.Approve(string, TimeSpan, int)"/>).</summary>
        RequireApproval = 2,
    }

    /// <summary>The effect a rule has when it fires (what a shadow rule would have done).</summary>
    public enum RuleEffect
    {
        /// <summary>An allow rule.</summary>
        Allow = 0,
        /// <summary>A deny rule.</summary>
        Deny = 1,
        /// <summary>A require_approval rule.</summary>
        RequireApproval = 2,
        /// <summary>A rate_limit rule.</summary>
        RateLimit = 3,
    }

    /// <summary>Why the decision is what it is.</summary>
    public enum DecisionCode
    {
        /// <summary>A rule decided (<see cref="Decision.Rule"/>).</summary>
        Rule = 0,
        /// <summary>No deciding rule fired: the policy's default applied.</summary>
        Default = 1,
        /// <summary>A require_approval rule fired and an approval covered the action.</summary>
        Approved = 2,
        /// <summary>A rate limit is exhausted (<see cref="Decision.RetryAfterMs"/>).</summary>
        RateLimited = 3,
        /// <summary>A require_approval rule fired and no approval covers the action.</summary>
        ApprovalRequired = 4,
        /// <summary>The policy requires registered agents and this one is not.</summary>
        UnknownAgent = 5,
        /// <summary>The action is malformed; <see cref="Decision.Reason"/> says how.</summary>
        InvalidAction = 6,
        /// <summary>The engine failed; the effect is deny.</summary>
        EngineError = 7,
        /// <summary>The decision needed the shared state (<see cref="EngineOptions.StateUrl"/>) and the store did not answer in time; the effect is deny.</summary>
        Unavailable = 8,
    }

    /// <summary>The names the policy language uses for effects and codes ("allow", "rate_limited", ...).</summary>
    public static class WireNames
    {
        /// <summary>"allow", "deny" or "require_approval".</summary>
        public static string WireName(this Effect effect)
        {
            switch (effect)
            {
                case Effect.Allow: return "allow";
                case Effect.Deny: return "deny";
                case Effect.RequireApproval: return "require_approval";
                default: return ((int)effect).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        /// <summary>"allow", "deny", "require_approval" or "rate_limit".</summary>
        public static string WireName(this RuleEffect effect)
        {
            switch (effect)
            {
                case RuleEffect.Allow: return "allow";
                case RuleEffect.Deny: return "deny";
                case RuleEffect.RequireApproval: return "require_approval";
                case RuleEffect.RateLimit: return "rate_limit";
                default: return ((int)effect).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        /// <summary>"rule", "default", "approved", "rate_limited", "approval_required", "unknown_agent", "invalid_action", "engine_error" or "unavailable".</summary>
        public static string WireName(this DecisionCode code)
        {
            switch (code)
            {
                case DecisionCode.Rule: return "rule";
                case DecisionCode.Default: return "default";
                case DecisionCode.Approved: return "approved";
                case DecisionCode.RateLimited: return "rate_limited";
                case DecisionCode.ApprovalRequired: return "approval_required";
                case DecisionCode.UnknownAgent: return "unknown_agent";
                case DecisionCode.InvalidAction: return "invalid_action";
                case DecisionCode.EngineError: return "engine_error";
                case DecisionCode.Unavailable: return "unavailable";
                default: return ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
    }

    /// <summary>A shadow rule that fired: reported, but without effect on the outcome.</summary>
    public sealed class ShadowHit
    {
        internal ShadowHit(string rule, RuleEffect effect)
        {
            Rule = rule;
            Effect = effect;
        }

        /// <summary>The shadow rule's id.</summary>
        public string Rule { get; }

        /// <summary>The rule's effect: what it would have done were it live.</summary>
        public RuleEffect Effect { get; }

        /// <inheritdoc />
        public override string ToString()
        {
            return Rule + " (" + Effect.WireName() + ")";
        }
    }

    /// <summary>The engine's decision on one action: every field of the policy language's decision object.</summary>
    public sealed partial class Decision
    {
        private static readonly IReadOnlyList<string> NoRules = new ReadOnlyCollection<string>(new string[0]);
        private static readonly IReadOnlyList<ShadowHit> NoShadowHits = new ReadOnlyCollection<ShadowHit>(new ShadowHit[0]);

        private Decision()
        {
        }

        /// <summary>Allow, deny or require approval.</summary>
        public Effect Effect { get; private set; }

        /// <summary>True only when <see cref="Effect"/> is <see cref="Portcullis.Effect.Allow"/>.</summary>
        public bool Allowed { get; private set; }

        /// <summary>Why: a rule, the default, an approval, a rate limit, a malformed action, ...</summary>
        public DecisionCode Code { get; private set; }

        /// <summary>The id of the deciding rule, or null when no rule decided.</summary>
        public string Rule { get; private set; }

        /// <summary>The deciding rule's reason (default: its id), or a sentence that says why.</summary>
        public string Reason { get; private set; }

        /// <summary>The non-shadow rules that fired and took part in the decision, in document order.</summary>
        public IReadOnlyList<string> Matched { get; private set; }

        /// <summary>The shadow rules that fired, in document order.</summary>
        public IReadOnlyList<ShadowHit> Shadow { get; private set; }

        /// <summary>
        /// The rewritten parameters, when an allow rule's <c>modify</c> changed them; null
        /// otherwise (run the action with its own parameters). JSON objects are
        /// <c>IDictionary&lt;string, object&gt;</c>, arrays <c>IList&lt;object&gt;</c>, integers
        /// that fit <see cref="long"/>, other numbers <see cref="double"/>.
        /// </summary>
        public IDictionary<string, object> Params { get; private set; }

        /// <summary>For a rate-limited deny: milliseconds until the limit admits again; otherwise null.</summary>
        public long? RetryAfterMs { get; private set; }

        /// <summary>
        /// <c>"sha256:" + hex</c> of the action's canonical form (what an approval binds to);
        /// null for an invalid action.
        /// </summary>
        public string ActionHash { get; private set; }

        /// <summary>The name of the policy that decided.</summary>
        public string PolicyName { get; private set; }

        /// <summary>The version of the policy that decided, or null when it has none.</summary>
        public string PolicyVersion { get; private set; }

        /// <summary>How long the evaluation took inside the engine, in nanoseconds.</summary>
        public long EvalNs { get; private set; }

        /// <summary>
        /// The decision as the JSON object of the policy language, as the engine writes it (for
        /// audit logs): the same text <see cref="Engine.EvaluateJson"/> returns, written on first use.
        /// </summary>
        public string Json
        {
            get { return json ?? (json = WriteJson()); }
            private set { json = value; }
        }

        /// <inheritdoc />
        public override string ToString()
        {
            string rule = Rule == null ? "" : " " + Rule;
            return Effect.WireName() + " (" + Code.WireName() + rule + "): " + Reason;
        }

        /// <summary>True only on a decision a <see cref="RemoteEngine"/> took with its fallback engine because the remote engine was unavailable.</summary>
        public bool Fallback { get; private set; }

        /// <summary>The same decision marked as taken by a fallback engine.</summary>
        internal Decision AsFallback()
        {
            return With("fallback", true, copy => copy.Fallback = true);
        }

        /// <summary>The same decision with another reason (for actions the binding could not even write as JSON).</summary>
        internal Decision WithReason(string reason)
        {
            return With("reason", reason, copy => copy.Reason = reason);
        }

        /// <summary>A copy with one member changed, in the property and in the JSON text.</summary>
        private Decision With(string key, object value, Action<Decision> set)
        {
            var copy = (Decision)MemberwiseClone();
            set(copy);
            var json = JsonReader.Parse(Json, JsonNumbers.Preserve) as JsonObject;
            if (json != null)
            {
                json[key] = value;
                copy.Json = JsonWriter.Write(json);
            }
            return copy;
        }

        /// <summary>Reads the decision JSON the engine wrote.</summary>
        /// <exception cref="PortcullisException">The text is not a decision object (a binding and library mismatch).</exception>
        internal static Decision FromJson(string json)
        {
            try
            {
                var root = JsonReader.Parse(json) as JsonObject;
                if (root == null) throw new FormatException("not an object");
                var decision = new Decision { Json = json };
                decision.Effect = ParseEffect(RequiredString(root, "effect"));
                decision.Allowed = Required<bool>(root, "allowed");
                if (decision.Allowed != (decision.Effect == Effect.Allow)) throw new FormatException("\"allowed\" contradicts \"effect\"");
                decision.Code = ParseCode(RequiredString(root, "code"));
                decision.Rule = OptionalString(root, "rule");
                decision.Reason = RequiredString(root, "reason");
                decision.Matched = ReadRules(root);
                decision.Shadow = ReadShadow(root);
                object parameters = Value(root, "params");
                if (parameters != null)
                {
                    decision.Params = parameters as JsonObject;
                    if (decision.Params == null) throw new FormatException("\"params\" is not an object");
                }
                object retry = Value(root, "retry_after_ms");
                if (retry != null)
                {
                    if (!(retry is long)) throw new FormatException("\"retry_after_ms\" is not an integer");
                    decision.RetryAfterMs = (long)retry;
                }
                decision.ActionHash = OptionalString(root, "action_hash");
                var policy = Value(root, "policy") as JsonObject;
                if (policy == null) throw new FormatException("\"policy\" is not an object");
                decision.PolicyName = RequiredString(policy, "name");
                decision.PolicyVersion = OptionalString(policy, "version");
                object evalNs = Value(root, "eval_ns");
                decision.EvalNs = evalNs is long ? (long)evalNs : 0;
                object fallback = Value(root, "fallback");
                decision.Fallback = fallback is bool && (bool)fallback;
                return decision;
            }
            catch (FormatException e)
            {
                throw new PortcullisException("the native library returned a decision this binding cannot read (" + e.Message + "): " + json, e);
            }
        }

        private static object Value(JsonObject root, string key)
        {
            object value;
            root.TryGetValue(key, out value);
            return value;
        }

        private static T Required<T>(JsonObject root, string key)
        {
            object value = Value(root, key);
            if (!(value is T)) throw new FormatException("\"" + key + "\" is missing or has the wrong type");
            return (T)value;
        }

        private static string RequiredString(JsonObject root, string key)
        {
            return Required<string>(root, key);
        }

        private static string OptionalString(JsonObject root, string key)
        {
            object value = Value(root, key);
            if (value == null) return null;
            var text = value as string;
            if (text == null) throw new FormatException("\"" + key + "\" is not a string");
            return text;
        }

        private static IReadOnlyList<string> ReadRules(JsonObject root)
        {
            var items = Value(root, "matched") as List<object>;
            if (items == null) throw new FormatException("\"matched\" is not an array");
            if (items.Count == 0) return NoRules;
            var rules = new string[items.Count];
            for (int i = 0; i < rules.Length; i++)
            {
                rules[i] = items[i] as string;
                if (rules[i] == null) throw new FormatException("\"matched\" holds a non-string");
            }
            return new ReadOnlyCollection<string>(rules);
        }

        private static IReadOnlyList<ShadowHit> ReadShadow(JsonObject root)
        {
            var items = Value(root, "shadow") as List<object>;
            if (items == null) throw new FormatException("\"shadow\" is not an array");
            if (items.Count == 0) return NoShadowHits;
            var hits = new ShadowHit[items.Count];
            for (int i = 0; i < hits.Length; i++)
            {
                var hit = items[i] as JsonObject;
                if (hit == null) throw new FormatException("\"shadow\" holds a non-object");
                hits[i] = new ShadowHit(RequiredString(hit, "rule"), ParseRuleEffect(RequiredString(hit, "effect")));
            }
            return new ReadOnlyCollection<ShadowHit>(hits);
        }

        private static Effect ParseEffect(string name)
        {
            switch (name)
            {
                case "allow": return Effect.Allow;
                case "deny": return Effect.Deny;
                case "require_approval": return Effect.RequireApproval;
                default: throw new FormatException("unknown effect \"" + name + "\"");
            }
        }

        private static RuleEffect ParseRuleEffect(string name)
        {
            switch (name)
            {
                case "allow": return RuleEffect.Allow;
                case "deny": return RuleEffect.Deny;
                case "require_approval": return RuleEffect.RequireApproval;
                case "rate_limit": return RuleEffect.RateLimit;
                default: throw new FormatException("unknown rule effect \"" + name + "\"");
            }
        }

        private static DecisionCode ParseCode(string name)
        {
            switch (name)
            {
                case "rule": return DecisionCode.Rule;
                case "default": return DecisionCode.Default;
                case "approved": return DecisionCode.Approved;
                case "rate_limited": return DecisionCode.RateLimited;
                case "approval_required": return DecisionCode.ApprovalRequired;
                case "unknown_agent": return DecisionCode.UnknownAgent;
                case "invalid_action": return DecisionCode.InvalidAction;
                case "engine_error": return DecisionCode.EngineError;
                case "unavailable": return DecisionCode.Unavailable;
                default: throw new FormatException("unknown code \"" + name + "\"");
            }
        }
    }
}
