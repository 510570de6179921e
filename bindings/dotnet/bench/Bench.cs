using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;

namespace Portcullis.Bench
{
    /// <summary>
    /// Timing harness: the latency of one Evaluate call through the .NET binding, as
    /// percentiles over many calls, for each way of calling it. The actions of the demo file are
    /// evaluated in turn against the demo policy.
    /// </summary>
    internal static class Bench
    {
        private const int Warmup = 5000;
        private const int Samples = 50000;

        private static int Main(string[] args)
        {
            if (args.Length > 0 && args[0] == "--percentile") return Percentile.Run(args);
            if (args.Length != 2)
            {
                Console.Error.WriteLine("usage: Portcullis.Bench.exe POLICY.json ACTIONS.json");
                Console.Error.WriteLine("       Portcullis.Bench.exe --percentile POLICY.json ACTIONS.json [options] (see Percentile.cs)");
                return 2;
            }
            string policy = File.ReadAllText(args[0]);
            var actions = ((List<object>)JsonReader.Parse(File.ReadAllText(args[1])))
                .Select(item => JsonWriter.Write(((IDictionary<string, object>)item)["action"]))
                .ToArray();
            var call = new ToolCall("search.web", "researcher-1", new Dictionary<string, object> { { "q", "agent safety" }, { "limit", 20 } });

            Console.WriteLine("== .NET (Mono " + MonoVersion() + ", native " + Engine.NativeVersion + "): " +
                              Samples + " calls each, " + actions.Length + " demo actions in turn ==");
            // A manual clock that never moves: the demo's rate limits deny once exhausted, which
            // is still a full evaluation.
            using (var engine = Engine.FromPolicy(policy, new EngineOptions { ManualClockStart = DateTimeOffset.UtcNow }))
            {
                var engineNs = new List<long>(Samples);
                Measure("Evaluate(string)", i =>
                {
                    Decision d = engine.Evaluate(actions[i % actions.Length]);
                    if (engineNs.Count < Samples) engineNs.Add(d.EvalNs);
                });
                Measure("EvaluateJson(string)", i => engine.EvaluateJson(actions[i % actions.Length]));
                Measure("Evaluate(ToolCall)", i => engine.Evaluate(call));
                engineNs.Sort();
                Console.WriteLine("  " + "inside the engine (eval_ns)".PadRight(28) + Format(engineNs, 0.50, "p50") + Format(engineNs, 0.99, "p99"));
            }
            return 0;
        }

        private static void Measure(string name, Action<int> evaluate)
        {
            for (int i = 0; i < Warmup; i++) evaluate(i);
            var ns = new List<long>(Samples);
            double tickNs = 1e9 / Stopwatch.Frequency;
            for (int i = 0; i < Samples; i++)
            {
                long start = Stopwatch.GetTimestamp();
                evaluate(i);
                ns.Add((long)((Stopwatch.GetTimestamp() - start) * tickNs));
            }
            ns.Sort();
            Console.WriteLine("  " + name.PadRight(28) + Format(ns, 0.50, "p50") + Format(ns, 0.99, "p99") +
                              "  mean " + (ns.Average() / 1000).ToString("F2", CultureInfo.InvariantCulture) + " us");
        }

        private static string Format(List<long> sorted, double quantile, string label)
        {
            long value = sorted[Math.Min(sorted.Count - 1, (int)(quantile * sorted.Count))];
            return "  " + label + " " + (value / 1000.0).ToString("F2", CultureInfo.InvariantCulture).PadLeft(8) + " us";
        }

        private static string MonoVersion()
        {
            Type mono = Type.GetType("Mono.Runtime");
            var display = mono?.GetMethod("GetDisplayName", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static);
            string text = display?.Invoke(null, null) as string ?? Environment.Version.ToString();
            return text.Split(' ')[0];
        }
    }
}
