using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;

namespace Portcullis.Bench
{
    /// <summary>
    /// The .NET percentile harness of the cross-language benchmark (benches/ and BENCHMARKS.md at
    /// the repository root): times single calls on the reference workload and prints the common
    /// BENCH and MIX lines, one each per input mode.
    /// </summary>
    /// <remarks>
    /// <c>Portcullis.Bench.exe --percentile POLICY.json ACTIONS.json [--workload NAME] [--n N]
    /// [--warmup W] [--start-ms MS] [--step-ms MS]</c>. ACTIONS.json is one JSON array of actions.
    /// The engine has a manual clock that starts at --start-ms and moves --step-ms after each action
    /// (outside the timed region). W untimed calls, then N timed calls, replaying the actions in
    /// order, each mode on a fresh engine:
    /// NAME-toolcall: Evaluate(ToolCall), the calls built from the file before timing;
    /// NAME-json: Evaluate(string), JSON text in, a Decision out;
    /// NAME-json-text: EvaluateJson(string), JSON text in, the decision's JSON text out (reading
    /// its code for the MIX line is not timed).
    /// Returns 1 when an evaluation fails (invalid_action or engine_error), 2 for bad arguments.
    /// </remarks>
    internal static class Percentile
    {
        private sealed class Settings
        {
            internal string PolicyPath;
            internal string ActionsPath;
            internal string Workload = "ref";
            internal int N = 200000;
            internal int Warmup = 10000;
            internal long StartMs = 1772463600000L;
            internal long StepMs = 10;
        }

        private sealed class Mix
        {
            internal long Allow, Deny, RateLimited, Approval, UnknownAgent, Failed;

            internal void Add(Effect effect, DecisionCode code)
            {
                if (code == DecisionCode.InvalidAction || code == DecisionCode.EngineError) Failed++;
                else if (code == DecisionCode.RateLimited) RateLimited++;
                else if (code == DecisionCode.UnknownAgent) UnknownAgent++;
                else if (effect == Effect.RequireApproval) Approval++;
                else if (effect == Effect.Allow) Allow++;
                else Deny++;
            }
        }

        internal static int Run(string[] args)
        {
            Settings s = Parse(args);
            if (s == null)
            {
                Console.Error.WriteLine("usage: Portcullis.Bench.exe --percentile POLICY.json ACTIONS.json [--workload NAME] " +
                                        "[--n N] [--warmup W] [--start-ms MS] [--step-ms MS]");
                return 2;
            }
            string policy = File.ReadAllText(s.PolicyPath);
            var items = JsonReader.Parse(File.ReadAllText(s.ActionsPath)) as List<object>;
            if (items == null || items.Count == 0)
            {
                Console.Error.WriteLine(s.ActionsPath + ": not a non-empty JSON array");
                return 1;
            }
            string[] texts = items.Select(a => JsonWriter.Write(a)).ToArray();
            ToolCall[] calls = items.Select(a => ToCall((IDictionary<string, object>)a)).ToArray();

            long failed = 0;
            failed += Measure(s, policy, "toolcall", (e, i) =>
            {
                Decision d = e.Evaluate(calls[i % calls.Length]);
                return Tuple.Create(d.Effect, d.Code);
            });
            failed += Measure(s, policy, "json", (e, i) =>
            {
                Decision d = e.Evaluate(texts[i % texts.Length]);
                return Tuple.Create(d.Effect, d.Code);
            });
            failed += Measure(s, policy, "json-text", (e, i) => e.EvaluateJson(texts[i % texts.Length]), CodeOf);
            if (failed > 0)
            {
                Console.Error.WriteLine(failed + " evaluations failed");
                return 1;
            }
            return 0;
        }

        private static Settings Parse(string[] args)
        {
            var s = new Settings();
            var positional = new List<string>();
            for (int i = 1; i < args.Length; i++)
            {
                string v = i + 1 < args.Length ? args[i + 1] : null;
                switch (args[i])
                {
                    case "--workload": s.Workload = v; i++; break;
                    case "--n": s.N = int.Parse(v, CultureInfo.InvariantCulture); i++; break;
                    case "--warmup": s.Warmup = int.Parse(v, CultureInfo.InvariantCulture); i++; break;
                    case "--start-ms": s.StartMs = long.Parse(v, CultureInfo.InvariantCulture); i++; break;
                    case "--step-ms": s.StepMs = long.Parse(v, CultureInfo.InvariantCulture); i++; break;
                    default:
                        if (args[i].StartsWith("-", StringComparison.Ordinal)) return null;
                        positional.Add(args[i]);
                        break;
                }
            }
            if (positional.Count != 2 || s.Workload == null || s.N < 1 || s.Warmup < 0) return null;
            s.PolicyPath = positional[0];
            s.ActionsPath = positional[1];
            return s;
        }

        /// <summary>An action object of the file as the binding's ToolCall.</summary>
        private static ToolCall ToCall(IDictionary<string, object> action)
        {
            object agent, value;
            action.TryGetValue("agent", out agent);
            var agentFields = agent as IDictionary<string, object>;
            string agentId = agentFields != null && agentFields.TryGetValue("id", out value) ? value as string : null;
            var call = new ToolCall(action.TryGetValue("tool", out value) ? value as string : null, agentId,
                                    action.TryGetValue("params", out value) ? value as IDictionary<string, object> : null);
            if (action.TryGetValue("kind", out value) && "message".Equals(value)) call.Kind = ActionKind.Message;
            if (action.TryGetValue("target", out value)) call.Target = value as string;
            if (action.TryGetValue("context", out value)) call.Context = value as IDictionary<string, object>;
            if (action.TryGetValue("timestamp", out value) && value is string)
            {
                call.Timestamp = DateTimeOffset.Parse((string)value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
            }
            return call;
        }

        private static Tuple<Effect, DecisionCode> CodeOf(string decisionJson)
        {
            var d = (IDictionary<string, object>)JsonReader.Parse(decisionJson);
            var effect = (string)d["effect"] == "allow" ? Effect.Allow
                : (string)d["effect"] == "require_approval" ? Effect.RequireApproval : Effect.Deny;
            var code = DecisionCode.EngineError;
            foreach (DecisionCode c in Enum.GetValues(typeof(DecisionCode)))
            {
                if (c.WireName() == (string)d["code"]) code = c;
            }
            return Tuple.Create(effect, code);
        }

        private static long Measure(Settings s, string policy, string mode, Func<Engine, int, Tuple<Effect, DecisionCode>> evaluate)
        {
            return Measure(s, policy, mode, evaluate, r => r);
        }

        /// <summary>Times <paramref name="evaluate"/>; <paramref name="outcome"/> reads its result untimed.</summary>
        private static long Measure<T>(Settings s, string policy, string mode, Func<Engine, int, T> evaluate,
                                       Func<T, Tuple<Effect, DecisionCode>> outcome)
        {
            var options = new EngineOptions { ManualClockStart = DateTimeOffset.FromUnixTimeMilliseconds(s.StartMs) };
            using (var engine = Engine.FromPolicy(policy, options))
            {
                var samples = new long[s.N];
                var mix = new Mix();
                double tickNs = 1e9 / Stopwatch.Frequency;
                long wallStart = 0;
                for (int i = 0; i < s.Warmup + s.N; i++)
                {
                    if (i == s.Warmup) wallStart = Stopwatch.GetTimestamp();
                    long t0 = Stopwatch.GetTimestamp();
                    T result = evaluate(engine, i);
                    long t1 = Stopwatch.GetTimestamp();
                    if (i >= s.Warmup)
                    {
                        samples[i - s.Warmup] = (long)((t1 - t0) * tickNs);
                        Tuple<Effect, DecisionCode> o = outcome(result);
                        mix.Add(o.Item1, o.Item2);
                    }
                    engine.SetTime(DateTimeOffset.FromUnixTimeMilliseconds(s.StartMs + (i + 1) * s.StepMs));
                }
                double wallNs = (Stopwatch.GetTimestamp() - wallStart) * tickNs;
                Array.Sort(samples);
                string name = s.Workload + "-" + mode;
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                    "BENCH lang=dotnet case={0} n={1} p50={2} p90={3} p99={4} p999={5} ops_per_s={6:F0}",
                    name, s.N, Rank(samples, 0.50), Rank(samples, 0.90), Rank(samples, 0.99), Rank(samples, 0.999),
                    s.N * 1e9 / wallNs));
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                    "MIX lang=dotnet case={0} allow={1} deny={2} rate_limited={3} approval={4} unknown_agent={5} failed={6}",
                    name, mix.Allow, mix.Deny, mix.RateLimited, mix.Approval, mix.UnknownAgent, mix.Failed));
                return mix.Failed;
            }
        }

        /// <summary>The nearest-rank percentile <paramref name="q"/> of sorted samples.</summary>
        private static long Rank(long[] sorted, double q)
        {
            int idx = (int)Math.Ceiling(q * sorted.Length);
            idx = Math.Max(1, Math.Min(idx, sorted.Length));
            return sorted[idx - 1];
        }
    }
}
