using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace Portcullis.Tests
{
    /// <summary>One engine shared by many threads.</summary>
    internal static class ConcurrencyTests
    {
        private const int Threads = 8;

        private static List<Exception> RunThreads(int count, Action<int> body)
        {
            var errors = new List<Exception>();
            var start = new ManualResetEventSlim(false);
            var threads = Enumerable.Range(0, count).Select(i => new Thread(() =>
            {
                start.Wait();
                try
                {
                    body(i);
                }
                catch (Exception e)
                {
                    lock (errors) errors.Add(e);
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            start.Set();
            threads.ForEach(t => t.Join());
            return errors;
        }

        [Test]
        public static void Concurrent_evaluations_all_get_the_right_decision()
        {
            using (Engine engine = EngineTests.NewEngine())
            {
                string shell = EngineTests.J("{'tool': 'shell.exec', 'agent': {'id': 'a1'}}");
                var wrong = new ConcurrentBag<string>();
                var errors = RunThreads(Threads, i =>
                {
                    var search = new ToolCall("search.web", "agent-" + i, new Dictionary<string, object> { { "limit", 10 + i } });
                    for (int n = 0; n < 1000; n++)
                    {
                        Decision denied = engine.Evaluate(shell);
                        if (denied.Rule != "no-shell") wrong.Add("shell: " + denied);
                        Decision allowed = engine.Evaluate(search);
                        if (!allowed.Allowed || !Equals(allowed.Params["limit"], (long)(10 + i))) wrong.Add("search: " + allowed.Json);
                    }
                });
                Assert.Equal(0, errors.Count, "exceptions (" + string.Join("; ", errors.Select(e => e.Message)) + ")");
                Assert.Equal(0, wrong.Count, "wrong decisions (" + wrong.FirstOrDefault() + ")");
            }
        }

        [Test]
        public static void Racing_threads_admit_exactly_the_rate_limit()
        {
            string policy = EngineTests.J("{'portcullis': 1, 'name': 'p', 'default': 'allow', 'rules': [" +
                                          "{'id': 'shared', 'effect': 'rate_limit', 'limit': {'max': 500, 'window': '1h', 'per': []}}]}");
            using (var engine = Engine.FromPolicy(policy, new EngineOptions { ManualClockStart = EngineTests.Start }))
            {
                int allowed = 0, limited = 0;
                var errors = RunThreads(Threads, i =>
                {
                    var call = new ToolCall("t", "agent-" + i);
                    for (int n = 0; n < 200; n++)
                    {
                        Decision d = engine.Evaluate(call);
                        if (d.Allowed) Interlocked.Increment(ref allowed);
                        else if (d.Code == DecisionCode.RateLimited) Interlocked.Increment(ref limited);
                    }
                });
                Assert.Equal(0, errors.Count, "exceptions");
                Assert.Equal(500, allowed, "admitted");
                Assert.Equal(Threads * 200 - 500, limited, "rate-limited");
            }
        }

        [Test]
        public static void Policy_updates_during_evaluation_are_atomic()
        {
            string v1 = EngineTests.J("{'portcullis': 1, 'name': 'v1', 'default': 'allow'}");
            string v2 = EngineTests.J("{'portcullis': 1, 'name': 'v2', 'default': 'deny'}");
            using (var engine = Engine.FromPolicy(v1))
            {
                int stop = 0;
                var mixed = new ConcurrentBag<string>();
                var errors = RunThreads(Threads, i =>
                {
                    if (i == 0)
                    {
                        for (int n = 0; n < 300; n++) engine.UpdatePolicy(n % 2 == 0 ? v2 : v1);
                        Interlocked.Exchange(ref stop, 1);
                        return;
                    }
                    var call = new ToolCall("t", "a1");
                    while (Interlocked.CompareExchange(ref stop, 0, 0) == 0)
                    {
                        Decision d = engine.Evaluate(call);
                        bool consistent = (d.PolicyName == "v1" && d.Allowed) || (d.PolicyName == "v2" && !d.Allowed);
                        if (!consistent) mixed.Add(d.Json);
                    }
                });
                Assert.Equal(0, errors.Count, "exceptions");
                Assert.Equal(0, mixed.Count, "decisions mixing two policies (" + mixed.FirstOrDefault() + ")");
            }
        }

        [Test]
        public static void Dispose_during_evaluation_lets_calls_finish_and_stops_new_ones()
        {
            Engine engine = EngineTests.NewEngine();
            long baseline = NativeHandle.LiveCount;
            int evaluated = 0;
            var unexpected = new ConcurrentBag<Exception>();
            var running = new CountdownEvent(Threads);
            var threads = Enumerable.Range(0, Threads).Select(i => new Thread(() =>
            {
                var call = new ToolCall("shell.exec", "a" + i);
                bool signalled = false;
                try
                {
                    while (true)
                    {
                        Decision d = engine.Evaluate(call);
                        if (d.Rule != "no-shell") unexpected.Add(new Exception("wrong decision " + d.Json));
                        Interlocked.Increment(ref evaluated);
                        if (!signalled)
                        {
                            running.Signal();
                            signalled = true;
                        }
                    }
                }
                catch (ObjectDisposedException)
                {
                    if (!signalled) running.Signal();
                }
                catch (Exception e)
                {
                    unexpected.Add(e);
                    if (!signalled) running.Signal();
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            running.Wait();
            engine.Dispose();
            bool allStopped = threads.All(t => t.Join(TimeSpan.FromSeconds(30)));
            Assert.True(allStopped, "every thread ended with ObjectDisposedException");
            Assert.Equal(0, unexpected.Count, "unexpected exceptions (" + string.Join("; ", unexpected.Select(e => e.Message)) + ")");
            Assert.True(evaluated >= Threads, "every thread evaluated before the dispose");
            Assert.Equal(baseline - 1, NativeHandle.LiveCount, "the native engine was freed once the last call returned");
        }
    }
}
