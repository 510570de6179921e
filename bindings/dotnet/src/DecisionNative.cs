using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;
using Portcullis.Native;

namespace Portcullis
{
    // A Decision read from the plain struct of portcullis_engine_evaluate_details, and its JSON
    // form written from the fields (for decisions that did not come as JSON text).
    public sealed partial class Decision
    {
        /// <summary>The JSON text: given by the engine or a server, or written from the fields on first use.</summary>
        private string json;

        /// <summary>The rewritten params as the engine wrote them (JSON text), for <see cref="WriteJson"/>.</summary>
        private string paramsJson;

        /// <summary>Copies a decision out of the details struct (which the caller frees afterwards).</summary>
        /// <exception cref="PortcullisException">It holds a value this binding does not know (a binding and library mismatch).</exception>
        internal static unsafe Decision FromDetails(PortcullisDecisionDetails* d, NativeNames names)
        {
            Verdict verdict = Verdict.FromNative(&d->verdict, names);
            if (d->reason.ptr == null || d->policy_name.ptr == null)
            {
                throw new PortcullisException("the native library returned a decision without a reason or policy name");
            }
            var decision = new Decision
            {
                Effect = verdict.Effect,
                Allowed = verdict.Allowed,
                Code = verdict.Code,
                Rule = verdict.Rule,
                Reason = NativeNames.Text(d->reason),
                Matched = NoRules,
                Shadow = NoShadowHits,
                RetryAfterMs = verdict.RetryAfterMs,
                ActionHash = NativeNames.Text(d->action_hash),
                EvalNs = verdict.EvalNs,
            };
            string name, version;
            names.Policy(d->policy_name, d->policy_version, out name, out version);
            decision.PolicyName = name;
            decision.PolicyVersion = version;
            if (verdict.MatchedCount > 0 && d->matched != null)
            {
                var rules = new string[verdict.MatchedCount];
                for (int i = 0; i < rules.Length; i++) rules[i] = names.Rule(d->matched[i]);
                decision.Matched = new ReadOnlyCollection<string>(rules);
            }
            if (verdict.ShadowCount > 0 && d->shadow != null)
            {
                var hits = new ShadowHit[verdict.ShadowCount];
                for (int i = 0; i < hits.Length; i++)
                {
                    uint effect = d->shadow[i].effect;
                    if (effect > (uint)RuleEffect.RateLimit) throw new PortcullisException("the native library returned an unknown rule effect " + effect);
                    hits[i] = new ShadowHit(names.Rule(d->shadow[i].rule), (RuleEffect)effect);
                }
                decision.Shadow = new ReadOnlyCollection<ShadowHit>(hits);
            }
            if (d->params_json.ptr != null)
            {
                decision.paramsJson = NativeNames.Text(d->params_json);
                try
                {
                    decision.Params = JsonReader.Parse(decision.paramsJson) as JsonObject;
                }
                catch (JsonFormatException e)
                {
                    throw new PortcullisException("the native library returned params this binding cannot read (" + e.Message + ")", e);
                }
                if (decision.Params == null) throw new PortcullisException("the native library returned params that are not an object");
            }
            return decision;
        }

        /// <summary>The decision object with the keys, order and escapes of the engine's own JSON form.</summary>
        private string WriteJson()
        {
            var o = new StringBuilder(256);
            o.Append("{\"effect\":\"").Append(Effect.WireName());
            o.Append("\",\"allowed\":").Append(Allowed ? "true" : "false");
            o.Append(",\"code\":\"").Append(Code.WireName()).Append("\",\"rule\":");
            AppendString(o, Rule);
            o.Append(",\"reason\":");
            AppendString(o, Reason);
            o.Append(",\"matched\":[");
            for (int i = 0; i < Matched.Count; i++)
            {
                if (i > 0) o.Append(',');
                AppendString(o, Matched[i]);
            }
            o.Append("],\"shadow\":[");
            for (int i = 0; i < Shadow.Count; i++)
            {
                if (i > 0) o.Append(',');
                o.Append("{\"rule\":");
                AppendString(o, Shadow[i].Rule);
                o.Append(",\"effect\":\"").Append(Shadow[i].Effect.WireName()).Append("\"}");
            }
            o.Append("],\"params\":");
            o.Append(paramsJson ?? (Params == null ? "null" : JsonWriter.Write(Params)));
            o.Append(",\"retry_after_ms\":");
            o.Append(RetryAfterMs.HasValue ? RetryAfterMs.Value.ToString(CultureInfo.InvariantCulture) : "null");
            o.Append(",\"action_hash\":");
            AppendString(o, ActionHash);
            o.Append(",\"policy\":{\"name\":");
            AppendString(o, PolicyName);
            o.Append(",\"version\":");
            AppendString(o, PolicyVersion);
            o.Append("},\"eval_ns\":").Append(EvalNs.ToString(CultureInfo.InvariantCulture));
            o.Append(Fallback ? ",\"fallback\":true}" : "}");
            return o.ToString();
        }

        /// <summary>A JSON string as the engine writes it (RFC 8785: only quote, backslash and controls escaped), or null.</summary>
        private static void AppendString(StringBuilder o, string s)
        {
            if (s == null)
            {
                o.Append("null");
                return;
            }
            o.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': o.Append("\\\""); break;
                    case '\\': o.Append("\\\\"); break;
                    case '\b': o.Append("\\b"); break;
                    case '\f': o.Append("\\f"); break;
                    case '\n': o.Append("\\n"); break;
                    case '\r': o.Append("\\r"); break;
                    case '\t': o.Append("\\t"); break;
                    default:
                        if (c < 0x20) o.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else o.Append(c);
                        break;
                }
            }
            o.Append('"');
        }
    }
}
