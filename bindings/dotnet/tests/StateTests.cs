using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace Portcullis.Tests
{
    /// <summary>
    /// EngineOptions.StateUrl on a real redis-server (Debian's package; make test-dotnet installs
    /// it), started on a free loopback port and killed after.
    /// </summary>
    internal static class StateTests
    {
        private const string Policy = @"{'portcullis': 1, 'name': 'fleet', 'default': 'allow', 'rules': [
          {'id': 'cap', 'effect': 'rate_limit', 'match': {'tool': ['send']},
           'limit': {'max': 5, 'window': '1h', 'per': []}}]}";
        private const string Send = "{\"tool\": \"send\", \"agent\": {\"id\": \"x\"}}";
        private const string Read = "{\"tool\": \"read\", \"agent\": {\"id\": \"x\"}}";

        private static int FreePort()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }

        private static Engine Create(string url)
        {
            return Engine.FromPolicy(EngineTests.J(Policy), new EngineOptions { StateUrl = url });
        }

        [Test]
        public static void Two_engines_on_one_redis_admit_exactly_max_together()
        {
            int port = FreePort();
            string dir = Path.Combine(Path.GetTempPath(), "portcullis-dotnet-redis-" + port);
            Directory.CreateDirectory(dir);
            var start = new ProcessStartInfo("redis-server",
                "--port " + port + " --bind 127.0.0.1 --save \"\" --appendonly no --dir " + dir)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
            };
            Process redis = Process.Start(start);
            try
            {
                DateTime deadline = DateTime.UtcNow.AddSeconds(10);
                while (true)
                {
                    try
                    {
                        using (var probe = new TcpClient()) probe.Connect(IPAddress.Loopback, port);
                        break;
                    }
                    catch (SocketException)
                    {
                        Assert.True(DateTime.UtcNow < deadline, "redis-server started");
                        Thread.Sleep(50);
                    }
                }
                string url = "redis://127.0.0.1:" + port + "/0";
                using (Engine a = Create(url))
                using (Engine b = Create(url))
                {
                    var codes = Enumerable.Range(0, 12)
                        .Select(i => (i % 2 == 0 ? a : b).Evaluate(Send).Code)
                        .ToList();
                    Assert.Equal(5, codes.Count(c => c == DecisionCode.Default), "admitted across both engines");
                    Assert.Equal(7, codes.Count(c => c == DecisionCode.RateLimited), "limited across both engines");
                }
            }
            finally
            {
                redis.Kill();
                redis.WaitForExit();
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public static void A_store_that_is_down_denies_only_what_needs_it()
        {
            using (Engine e = Create("redis://127.0.0.1:" + FreePort() + "/0?timeout_ms=200"))
            {
                Decision d = e.Evaluate(Send);
                Assert.Equal(DecisionCode.Unavailable, d.Code, "code");
                Assert.True(!d.Allowed, "denied");
                Assert.Equal(DecisionCode.Default, e.Evaluate(Read).Code, "unlimited action");
            }
        }

        [Test]
        public static void Approving_with_the_store_down_throws_unavailable()
        {
            const string pay = "{\"tool\": \"pay\", \"agent\": {\"id\": \"x\"}}";
            string policy = EngineTests.J(@"{'portcullis': 1, 'name': 'p', 'rules': [
              {'id': 'pay', 'effect': 'require_approval', 'match': {'tool': ['pay']}}]}");
            using (Engine e = Engine.FromPolicy(policy, new EngineOptions { StateUrl = "redis://127.0.0.1:" + FreePort() + "/0?timeout_ms=200" }))
            {
                var error = Assert.Throws<UnavailableException>(() => e.Approve(pay, TimeSpan.FromMinutes(1)), "approve");
                Assert.True(error.Message.Length > 0, "the message says why");
                Assert.Throws<UnavailableException>(() => e.ApproveHash("sha256:" + new string('0', 64), TimeSpan.FromMinutes(1)), "approve by hash");
                Assert.True(!e.Evaluate(pay).Allowed, "nothing was granted");
            }
        }

        [Test]
        public static void A_malformed_state_url_is_refused_at_creation()
        {
            foreach (string url in new[] { "http://127.0.0.1:6379", "redis://", "redis://127.0.0.1\0" })
            {
                var error = Assert.Throws<InvalidArgumentException>(() => Create(url), url);
                Assert.True(error.Message.Contains("StateUrl") || error.Message.Contains("state_url"), "the message names the option: " + error.Message);
            }
        }
    }
}
