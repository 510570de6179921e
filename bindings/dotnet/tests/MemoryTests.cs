using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;

namespace Portcullis.Tests
{
    /// <summary>Native memory is released: handle counts return to their baseline and RSS stays bounded.</summary>
    internal static class MemoryTests
    {
        private static void Settle()
        {
            for (int i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }

        /// <summary>Resident set size of this process, in bytes (Linux /proc).</summary>
        private static long Rss()
        {
            foreach (string line in File.ReadAllLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    string kb = line.Substring(6).Trim().Split(' ')[0];
                    return long.Parse(kb) * 1024;
                }
            }
            throw new InvalidOperationException("no VmRSS in /proc/self/status");
        }

        /// <summary>A policy whose engine is large enough that a leak shows in RSS: rules with globs, regexes and limits.</summary>
        private static string SizablePolicy()
        {
            var rules = new StringBuilder();
            for (int i = 0; i < 4; i++)
            {
                if (i > 0) rules.Append(',');
                rules.Append("{'id': 'r" + i + "', 'effect': 'deny', 'match': {'tool': ['tool" + i + ".*']}, " +
                             "'when': {'field': 'params.q', 'matches': '^(alpha|beta)[0-9]+-" + i + "$'}}," +
                             "{'id': 'l" + i + "', 'effect': 'rate_limit', 'match': {'tool': ['tool" + i + ".*']}, " +
                             "'limit': {'max': 10, 'window': '1m'}}");
            }
            return EngineTests.J("{'portcullis': 1, 'name': 'big', 'default': 'allow', 'rules': [" + rules + "]}");
        }

        [Test]
        public static void Dispose_frees_every_native_object()
        {
            Settle();
            long baseline = NativeHandle.LiveCount;
            using (Engine engine = EngineTests.NewEngine())
            {
                Assert.Equal(baseline + 1, NativeHandle.LiveCount, "one engine");
                engine.Evaluate(new ToolCall("search.web", "a1"));
                engine.Approve(new ToolCall("payments.send", "a1"), TimeSpan.FromMinutes(1));
                Assert.Throws<PolicyException>(() => engine.UpdatePolicy("{"), "bad update");
                Assert.Throws<InvalidArgumentException>(() => engine.ApproveHash("x", TimeSpan.FromMinutes(1)), "bad hash");
                Assert.Equal(baseline + 1, NativeHandle.LiveCount, "decision buffers, hash buffers and errors are freed at once");
            }
            Assert.Equal(baseline, NativeHandle.LiveCount, "after Dispose");
            Assert.Throws<PolicyException>(() => Engine.FromPolicy("{"), "bad policy");
            Assert.Equal(baseline, NativeHandle.LiveCount, "a failed FromPolicy leaves nothing behind");
        }

        /// <summary>
        /// Creates engines and drops them, on a thread that then ends: Mono scans stacks
        /// conservatively, so a stale slot on a live stack could keep the last one reachable.
        /// </summary>
        private static void CreateAndForget(int count)
        {
            var thread = new Thread(() =>
            {
                for (int i = 0; i < count; i++) EngineTests.NewEngine().Evaluate(new ToolCall("t", "a1"));
            });
            thread.Start();
            thread.Join();
        }

        [Test]
        public static void The_finalizer_frees_a_forgotten_engine()
        {
            Settle();
            long baseline = NativeHandle.LiveCount;
            CreateAndForget(20);
            Settle();
            Assert.Equal(baseline, NativeHandle.LiveCount, "forgotten engines are freed by their finalizers");
        }

        [Test]
        public static void Fifty_thousand_create_evaluate_dispose_cycles_keep_rss_bounded()
        {
            string policy = SizablePolicy();
            var call = new ToolCall("tool3.run", "a1", new Dictionary<string, object> { { "q", "beta1234-3" } });

            // What one live engine costs, to show that a leak would be visible.
            Settle();
            long before = Rss();
            var held = Enumerable.Range(0, 500).Select(_ => Engine.FromPolicy(policy)).ToList();
            long perEngine = (Rss() - before) / held.Count;
            held.ForEach(e => e.Dispose());

            Settle();
            long baseline = NativeHandle.LiveCount;
            for (int i = 0; i < 5000; i++) Cycle(policy, call);
            Settle();
            long warm = Rss();
            for (int i = 0; i < 45000; i++) Cycle(policy, call);
            Settle();
            long growth = Rss() - warm;
            Console.WriteLine("  memory: one engine ~" + perEngine / 1024 + " KiB; RSS growth over 45000 more cycles: " + growth / 1024 + " KiB");
            Assert.Equal(baseline, NativeHandle.LiveCount, "live native objects after 50000 cycles");
            Assert.True(perEngine * 45000L > 64L * 1024 * 1024, "a leaked engine would add more than 64 MiB over 45000 cycles (one is " + perEngine + " bytes)");
            Assert.True(growth < 32L * 1024 * 1024, "RSS grew " + growth / 1024 + " KiB over 45000 cycles; bounded means under 32 MiB");
        }

        private static void Cycle(string policy, ToolCall call)
        {
            using (Engine engine = Engine.FromPolicy(policy))
            {
                Decision d = engine.Evaluate(call);
                if (d.Rule != "r3") throw new AssertionException("wrong decision " + d.Json);
            }
        }
    }
}
