using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;

namespace Portcullis.Tests
{
    /// <summary>The audit trail: one chain, the verifier, rotation, drop counts, redaction, threads and errors.</summary>
    internal static class AuditTests
    {
        private const string Policy = @"{'portcullis': 1, 'name': 'audited', 'version': '3',
          'audit': {'include_params': ['params.table']},
          'rules': [
            {'id': 'reads', 'effect': 'allow', 'match': {'tool': ['db.read']}},
            {'id': 'no-drop', 'effect': 'deny', 'match': {'tool': ['db.drop']}, 'reason': 'never'}]}";

        private const string Genesis = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

        private static readonly Regex HashPattern = new Regex("^sha256:[0-9a-f]{64}$");

        /// <summary>Decided in turn: an allow with a secret outside include_params, a deny, and a malformed action.</summary>
        private static readonly string[][] Actions =
        {
            new[] { "{'tool': 'db.read', 'agent': {'id': 'a1'}, 'params': {'table': 'users', 'password': 'hunter2-secret'}, 'context': {'token': 'ctx-secret'}}", "db.read", "allow", "rule" },
            new[] { "{'tool': 'db.drop', 'agent': {'id': 'a2'}, 'params': {'table': 't'}}", "db.drop", "deny", "rule" },
            new[] { "{'agent': {'id': 'a3'}}", null, "deny", "invalid_action" },
        };

        private static Engine NewAudited(AuditOptions audit)
        {
            return Engine.FromPolicy(EngineTests.J(Policy), new EngineOptions { ManualClockStart = EngineTests.Start, Audit = audit });
        }

        private static void EvaluateAudited(Engine engine, int n)
        {
            for (int i = 0; i < n; i++)
            {
                string[] want = Actions[i % Actions.Length];
                Decision d = engine.Evaluate(EngineTests.J(want[0]));
                Assert.Equal(want[2] + "/" + want[3], d.Effect.WireName() + "/" + d.Code.WireName(), "decision " + i);
            }
        }

        private static IDictionary<string, object> Parse(string record)
        {
            return (IDictionary<string, object>)JsonReader.Parse(record);
        }

        /// <summary>Records form a whole trail (seq 1.., each linked to the one before); with decisions, those of EvaluateAudited.</summary>
        private static void CheckChain(IList<string> records, bool decisions)
        {
            string prev = Genesis;
            for (int i = 0; i < records.Count; i++)
            {
                string what = "record " + (i + 1);
                IDictionary<string, object> r = Parse(records[i]);
                Assert.Equal((long)(i + 1), r["seq"], what + " seq");
                Assert.Equal(prev, r["prev"], what + " prev");
                Assert.True(HashPattern.IsMatch((string)r["hash"]), what + " has a sha256 hash");
                Assert.Equal("decision", r["type"], what + " type");
                prev = (string)r["hash"];
                if (!decisions) continue;
                string[] want = Actions[i % Actions.Length];
                Assert.Equal(want[1], r["tool"], what + " tool");
                Assert.Equal(want[2], r["effect"], what + " effect");
                Assert.Equal(want[3], r["code"], what + " code");
                Assert.Equal("2026-05-22T12:00:00.000Z", r["time"], what + " time");
                var policy = (IDictionary<string, object>)r["policy"];
                Assert.Equal("audited", policy["name"], what + " policy name");
                Assert.Equal("3", policy["version"], what + " policy version");
                if (i % Actions.Length == 0)
                {
                    var parameters = (IDictionary<string, object>)r["params"];
                    Assert.Sequence(new[] { "params.table" }, parameters.Keys, what + " params keys");
                    Assert.Equal("users", parameters["params.table"], what + " params.table");
                    Assert.Equal("reads", r["rule"], what + " rule");
                }
                if (i % Actions.Length == 2)
                {
                    Assert.True(!r.ContainsKey("params") && r["agent"] == null, what + " of a malformed action has no agent or params");
                }
            }
        }

        /// <summary>No parameter or context value outside include_params is in the trail.</summary>
        private static void AssertRedacted(string trail)
        {
            foreach (string secret in new[] { "hunter2-secret", "ctx-secret", "password", "token" })
            {
                Assert.True(trail.IndexOf(secret, StringComparison.Ordinal) < 0, "the trail does not hold " + secret);
            }
        }

        private static string Verifier()
        {
            string path = Environment.GetEnvironmentVariable("PORTCULLIS_BIN");
            if (string.IsNullOrEmpty(path))
            {
                string build = System.IO.Path.GetDirectoryName(typeof(AuditTests).Assembly.Location);
                path = System.IO.Path.Combine(build, "..", "..", "..", "target", "release", "portcullis");
            }
            if (!File.Exists(path)) throw new AssertionException("the audit verifier is missing (run make tools, or set PORTCULLIS_BIN): " + path);
            return path;
        }

        /// <summary>Runs the verifier on the files; returns its exit code and output.</summary>
        private static int Verify(out string output, params string[] files)
        {
            var info = new ProcessStartInfo(Verifier(), "audit verify " + string.Join(" ", files.Select(f => "\"" + f + "\"")))
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
            };
            using (Process p = Process.Start(info))
            {
                output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return p.ExitCode;
            }
        }

        private static string TempDir()
        {
            string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "portcullis-dotnet-audit-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            return dir;
        }

        private static string Lines(IEnumerable<string> records)
        {
            return string.Concat(records.Select(r => r + "\n"));
        }

        [Test]
        public static void A_memory_trail_drains_as_one_chain()
        {
            const int n = 60;
            string dir = TempDir();
            try
            {
                using (Engine engine = NewAudited(new AuditOptions { Sink = AuditSink.Memory }))
                {
                    EvaluateAudited(engine, n);
                    IReadOnlyList<string> first = engine.DrainAudit(25);
                    Assert.Equal(25, first.Count, "first batch");
                    IReadOnlyList<string> rest = engine.DrainAudit();
                    Assert.Equal(n - 25, rest.Count, "second batch");
                    Assert.Equal(0, engine.DrainAudit().Count, "nothing is handed out twice");
                    var all = first.Concat(rest).ToList();
                    CheckChain(all, true);
                    AssertRedacted(Lines(all));
                    Assert.Equal(new AuditStats(n, 0), engine.AuditStats, "stats");

                    // Written out in order, the drained records are a trail the verifier accepts.
                    string path = System.IO.Path.Combine(dir, "drained.log");
                    File.WriteAllText(path, Lines(all));
                    string output;
                    Assert.Equal(0, Verify(out output, path), "verifier exit code (" + output + ")");
                    Assert.Contains("ok: 60 records verify", output, "verifier output");
                }
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public static void A_flushed_file_trail_verifies_and_an_edit_does_not()
        {
            const int n = 40;
            string dir = TempDir();
            try
            {
                string path = System.IO.Path.Combine(dir, "audit.log");
                var options = new AuditOptions { Sink = AuditSink.File, Path = path, FlushInterval = TimeSpan.FromMinutes(1), Fsync = true };
                string output;
                using (Engine engine = NewAudited(options))
                {
                    EvaluateAudited(engine, n);
                    engine.FlushAudit();
                    string text = File.ReadAllText(path);
                    List<string> records = text.Split('\n').Where(l => l.Length > 0).ToList();
                    Assert.Equal(n, records.Count, "lines after FlushAudit");
                    Assert.True(text.EndsWith("\n"), "the last line is complete");
                    CheckChain(records, true);
                    AssertRedacted(text);
                    Assert.Equal(new AuditStats(n, 0), engine.AuditStats, "stats");
                    Assert.Equal(0, engine.DrainAudit().Count, "a file sink has nothing to drain");
                    Assert.Equal(0, Verify(out output, path), "verifier exit code (" + output + ")");
                    Assert.Contains("ok: 40 records verify (40 decisions, 0 dropped)", output, "verifier output");
                    EvaluateAudited(engine, 2);
                }

                // Dispose wrote what was queued; a new engine continues the chain.
                using (Engine engine = NewAudited(new AuditOptions { Sink = AuditSink.File, Path = path }))
                {
                    EvaluateAudited(engine, 3);
                }
                Assert.Equal(0, Verify(out output, path), "verifier exit code after reopening (" + output + ")");
                Assert.Contains("ok: 45 records verify", output, "verifier output");

                string edited = File.ReadAllText(path);
                int at = edited.IndexOf("\"effect\":\"deny\"", StringComparison.Ordinal);
                Assert.True(at >= 0, "the trail holds a deny");
                File.WriteAllText(path, edited.Substring(0, at) + "\"effect\":\"allow\"" + edited.Substring(at + 15));
                Assert.Equal(1, Verify(out output, path), "an edited trail fails (" + output + ")");
                Assert.Contains("FAIL", output, "verifier output");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public static void Rotation_keeps_one_chain_across_files()
        {
            string dir = TempDir();
            try
            {
                string path = System.IO.Path.Combine(dir, "audit.log");
                using (Engine engine = NewAudited(new AuditOptions { Sink = AuditSink.File, Path = path, MaxBytes = 1500 }))
                {
                    for (int i = 0; i < 30; i++)
                    {
                        EvaluateAudited(engine, 1);
                        engine.FlushAudit();
                    }
                }
                List<string> rotated = Directory.GetFiles(dir, "audit.log.*").OrderBy(f => f, StringComparer.Ordinal).ToList();
                Assert.True(rotated.Count >= 2, "MaxBytes 1500 rotated " + rotated.Count + " times");
                rotated.Add(path);
                string output;
                Assert.Equal(0, Verify(out output, rotated.ToArray()), "verifier exit code (" + output + ")");
                Assert.Contains("ok: 30 records verify", output, "verifier output");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public static void Drop_overflow_counts_every_dropped_record()
        {
            const int n = 20, capacity = 4;
            using (Engine engine = NewAudited(new AuditOptions { Sink = AuditSink.Memory, QueueCapacity = capacity, Overflow = AuditOverflow.Drop }))
            {
                EvaluateAudited(engine, n);
                Assert.Equal(new AuditStats(0, n - capacity), engine.AuditStats, "stats before draining");
                IReadOnlyList<string> records = engine.DrainAudit(100);
                Assert.Equal(capacity + 1, records.Count, "a dropped record, then the queued decisions");
                IDictionary<string, object> dropped = Parse(records[0]);
                Assert.Equal("dropped", dropped["type"], "first record type");
                Assert.Equal((long)(n - capacity), dropped["dropped"], "dropped count");
                AuditStats stats = engine.AuditStats;
                Assert.Equal(new AuditStats(capacity, n - capacity), stats, "stats after draining");
                Assert.Equal((long)n, stats.Recorded + stats.Dropped, "recorded + dropped = decisions");
            }
        }

        [Test]
        public static void Params_outside_include_params_never_reach_the_trail()
        {
            string dir = TempDir();
            try
            {
                string path = System.IO.Path.Combine(dir, "audit.log");
                var call = new ToolCall("db.read", "a1", new Dictionary<string, object>
                {
                    { "table", "users" },
                    { "password", "hunter2-secret" },
                    { "nested", new Dictionary<string, object> { { "token", "x" } } },
                })
                {
                    Context = new Dictionary<string, object> { { "token", "ctx-secret" } },
                };
                string bare = EngineTests.J("{'tool': 'db.read', 'agent': {'id': 'a1'}, 'params': {'password': 'hunter2-secret'}}");
                string fileTrail, memoryTrail;
                using (Engine file = NewAudited(new AuditOptions { Sink = AuditSink.File, Path = path }))
                using (Engine memory = NewAudited(new AuditOptions { Sink = AuditSink.Memory }))
                {
                    foreach (Engine engine in new[] { file, memory })
                    {
                        Assert.True(engine.Evaluate(call).Allowed, "allowed");
                        Assert.True(engine.Evaluate(bare).Allowed, "allowed");
                    }
                    file.FlushAudit();
                    fileTrail = File.ReadAllText(path);
                    memoryTrail = Lines(memory.DrainAudit());
                }
                foreach (string trail in new[] { fileTrail, memoryTrail })
                {
                    AssertRedacted(trail);
                    Assert.Contains("\"params\":{\"params.table\":\"users\"}", trail, "the included path");
                    Assert.Contains("\"params\":{}", trail, "an included path that is absent");
                }
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public static void Threads_evaluating_into_a_small_queue_lose_nothing()
        {
            const int threads = 8, each = 200;
            using (Engine engine = NewAudited(new AuditOptions { Sink = AuditSink.Memory, QueueCapacity = 16 }))
            {
                string read = EngineTests.J(Actions[0][0]);
                int wrong = 0;
                var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
                {
                    for (int i = 0; i < each; i++)
                    {
                        if (!engine.Evaluate(read).Allowed) Interlocked.Increment(ref wrong);
                    }
                })).ToList();
                workers.ForEach(t => t.Start());
                var all = new List<string>();
                var clock = Stopwatch.StartNew();
                while (all.Count < threads * each && clock.Elapsed < TimeSpan.FromMinutes(2))
                {
                    IReadOnlyList<string> got = engine.DrainAudit(7);
                    all.AddRange(got);
                    if (got.Count == 0) Thread.Sleep(1);
                }
                workers.ForEach(t => t.Join());
                Assert.Equal(0, wrong, "wrong decisions");
                Assert.Equal(threads * each, all.Count, "records");
                Assert.Equal(0, engine.DrainAudit().Count, "no record beyond the decisions");
                CheckChain(all, false);
                Assert.Equal(new AuditStats(threads * each, 0), engine.AuditStats, "stats");
            }
        }

        [Test]
        public static void Trail_errors_are_typed()
        {
            string dir = TempDir();
            try
            {
                string missing = System.IO.Path.Combine(dir, "no-such-dir", "audit.log");
                AuditException e = Assert.Throws<AuditException>(
                    () => NewAudited(new AuditOptions { Sink = AuditSink.File, Path = missing }), "an unopenable file");
                Assert.Contains(missing, e.Message, "the message names the file");
                Assert.True(e is PortcullisException, "AuditException is a PortcullisException");
                Assert.Throws<AuditException>(() => NewAudited(new AuditOptions { Sink = AuditSink.File, Path = dir }), "a directory");

                // A bad policy is a PolicyException and never creates the file.
                string path = System.IO.Path.Combine(dir, "audit.log");
                PolicyException p = Assert.Throws<PolicyException>(() => Engine.FromPolicy(
                    EngineTests.J("{'portcullis': 1, 'name': 'p', 'audit': {'include': []}}"),
                    new EngineOptions { Audit = new AuditOptions { Sink = AuditSink.File, Path = path } }), "a bad policy");
                Assert.Equal("audit", p.Path, "policy error path");
                Assert.True(!File.Exists(path), "a bad policy created no trail file");

                var invalid = new Dictionary<string, AuditOptions>
                {
                    { "no sink", new AuditOptions() },
                    { "unknown sink", new AuditOptions { Sink = (AuditSink)9 } },
                    { "file without path", new AuditOptions { Sink = AuditSink.File } },
                    { "NUL in path", new AuditOptions { Sink = AuditSink.File, Path = "a\0b" } },
                    { "lone surrogate in path", new AuditOptions { Sink = AuditSink.File, Path = "/tmp/\ud800.log" } },
                    { "unknown overflow", new AuditOptions { Sink = AuditSink.Memory, Overflow = (AuditOverflow)5 } },
                };
                foreach (var c in invalid)
                {
                    Assert.Throws<ArgumentException>(() => NewAudited(c.Value), c.Key);
                }
                Assert.Throws<InvalidArgumentException>(
                    () => NewAudited(new AuditOptions { Sink = AuditSink.Memory, QueueCapacity = (1 << 20) + 1 }), "a queue above the engine's maximum");
                Assert.Throws<ArgumentOutOfRangeException>(() => new AuditOptions { MaxBytes = -1 }, "negative MaxBytes");
                Assert.Throws<ArgumentOutOfRangeException>(() => new AuditOptions { QueueCapacity = -1 }, "negative QueueCapacity");
                Assert.Throws<ArgumentOutOfRangeException>(() => new AuditOptions { FlushInterval = TimeSpan.FromSeconds(-1) }, "negative FlushInterval");
                Assert.True(!File.Exists(path), "refused options created no trail file");

                Engine engine = NewAudited(new AuditOptions { Sink = AuditSink.Memory });
                Assert.Throws<ArgumentOutOfRangeException>(() => engine.DrainAudit(0), "DrainAudit(0)");
                engine.Dispose();
                Assert.Throws<ObjectDisposedException>(() => engine.DrainAudit(), "DrainAudit after Dispose");
                Assert.Throws<ObjectDisposedException>(() => engine.FlushAudit(), "FlushAudit after Dispose");
                Assert.Throws<ObjectDisposedException>(() => { AuditStats s = engine.AuditStats; }, "AuditStats after Dispose");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public static void An_engine_without_a_trail_has_nothing_to_drain()
        {
            using (Engine engine = EngineTests.NewEngine())
            {
                engine.Evaluate(new ToolCall("search.web", "a1"));
                Assert.Equal(0, engine.DrainAudit().Count, "records");
                engine.FlushAudit();
                Assert.Equal(new AuditStats(0, 0), engine.AuditStats, "stats");
            }
        }

        [Test]
        public static void FlushInterval_rounds_up_to_whole_milliseconds()
        {
            Assert.Equal(1UL, new AuditOptions { FlushInterval = TimeSpan.FromTicks(1) }.FlushIntervalMs, "one tick");
            Assert.Equal(250UL, new AuditOptions { FlushInterval = TimeSpan.FromMilliseconds(250) }.FlushIntervalMs, "250 ms");
            Assert.Equal(0UL, new AuditOptions().FlushIntervalMs, "unset");
        }
    }
}
