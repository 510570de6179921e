using System;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace Portcullis.Tests
{
    /// <summary>
    /// RemoteEngine against a real <c>portcullis serve</c> ($PORTCULLIS_BIN) on a private Unix
    /// socket and on loopback TCP, and against a local listener that answers garbage.
    /// </summary>
    internal static class RemoteTests
    {
        internal const string Policy = @"{""portcullis"": 1, ""name"": ""remote-test"", ""version"": ""7"", ""rules"": [
  {""id"": ""no-rm"", ""effect"": ""deny"", ""match"": {""tool"": [""shell""]}, ""when"": {""field"": ""params.cmd"", ""contains"": ""rm -rf""}},
  {""id"": ""shell"", ""effect"": ""allow"", ""match"": {""tool"": [""shell""]}},
  {""id"": ""search"", ""effect"": ""allow"", ""match"": {""tool"": [""search""]}},
  {""id"": ""search-2"", ""effect"": ""rate_limit"", ""match"": {""tool"": [""search""]}, ""limit"": {""max"": 2, ""window"": ""1h"", ""per"": [""agent""]}},
  {""id"": ""pay"", ""effect"": ""require_approval"", ""match"": {""tool"": [""pay""]}}]}";

        private const string FallbackPolicy = @"{""portcullis"": 1, ""name"": ""fallback"",
  ""rules"": [{""id"": ""fallback-search"", ""effect"": ""allow"", ""match"": {""tool"": [""search""]}}]}";

        internal const string Shell = @"{""tool"": ""shell"", ""agent"": {""id"": ""a""}, ""params"": {""cmd"": ""ls""}}";
        private const string Search = @"{""tool"": ""search"", ""agent"": {""id"": ""a""}}";

        /// <summary>A <c>portcullis serve</c> process; killed on Dispose.</summary>
        internal sealed class Server : IDisposable
        {
            internal readonly string Dir;
            internal readonly string Socket;
            private readonly string args;
            internal Process Process;

            internal Server(string extraArgs = "")
            {
                Dir = Path.Combine(Path.GetTempPath(), "portcullis-remote-" + Guid.NewGuid().ToString("N").Substring(0, 12));
                Directory.CreateDirectory(Dir);
                Socket = Path.Combine(Dir, "pc.sock");
                File.WriteAllText(Path.Combine(Dir, "policy.json"), Policy);
                args = "serve --policy \"" + Path.Combine(Dir, "policy.json") + "\" --listen unix:\"" + Socket + "\" " + extraArgs;
                Start();
            }

            internal void Start()
            {
                if (File.Exists(Socket)) File.Delete(Socket);
                var info = new ProcessStartInfo(AuditTestsBin(), args)
                {
                    UseShellExecute = false,
                    RedirectStandardError = true,
                };
                Process = Process.Start(info);
                Process.ErrorDataReceived += (sender, e) => { };
                Process.BeginErrorReadLine();
                for (int i = 0; i < 200; i++)
                {
                    if (File.Exists(Socket)) return;
                    Thread.Sleep(25);
                }
                throw new AssertionException("portcullis serve did not create " + Socket + " within 5 s");
            }

            internal void Kill()
            {
                if (Process == null) return;
                try
                {
                    Signal("CONT");
                    Process.Kill();
                    Process.WaitForExit();
                }
                catch (InvalidOperationException)
                {
                }
                Process.Dispose();
                Process = null;
            }

            internal void Signal(string name)
            {
                using (var kill = Process.Start(new ProcessStartInfo("kill", "-" + name + " " + Process.Id) { UseShellExecute = false }))
                {
                    kill.WaitForExit();
                }
            }

            /// <summary>Waits until every thread is stopped (signals are delivered asynchronously).</summary>
            internal void WaitStopped()
            {
                string tasks = "/proc/" + Process.Id + "/task";
                for (int i = 0; i < 500; i++)
                {
                    bool stopped = true;
                    foreach (var task in Directory.GetDirectories(tasks))
                    {
                        string stat = File.ReadAllText(Path.Combine(task, "stat"));
                        if (!stat.Substring(stat.LastIndexOf(')') + 1).StartsWith(" T", StringComparison.Ordinal)) stopped = false;
                    }
                    if (stopped) return;
                    Thread.Sleep(10);
                }
                throw new AssertionException("portcullis serve did not stop within 5 s");
            }

            public void Dispose()
            {
                Kill();
                try
                {
                    Directory.Delete(Dir, true);
                }
                catch (IOException)
                {
                }
            }
        }

        private static string AuditTestsBin()
        {
            string path = Environment.GetEnvironmentVariable("PORTCULLIS_BIN");
            if (string.IsNullOrEmpty(path))
            {
                string build = Path.GetDirectoryName(typeof(RemoteTests).Assembly.Location);
                path = Path.Combine(build, "..", "..", "..", "target", "release", "portcullis");
            }
            if (!File.Exists(path)) throw new AssertionException("the portcullis binary is missing (run make tools, or set PORTCULLIS_BIN): " + path);
            return path;
        }

        /// <summary>
        /// The decision JSON without what legitimately differs between two engines: eval_ns, and
        /// retry_after_ms, which reads each engine's own clock (checked to be within the window).
        /// </summary>
        internal static string Comparable(Decision d)
        {
            if (d.Code == DecisionCode.RateLimited)
            {
                Assert.True(d.RetryAfterMs > 0 && d.RetryAfterMs <= 3600000, "retry_after_ms " + d.RetryAfterMs);
            }
            string json = System.Text.RegularExpressions.Regex.Replace(d.Json, ",\"retry_after_ms\":[0-9]+", ",\"retry_after_ms\":null");
            int at = json.IndexOf(",\"eval_ns\":", StringComparison.Ordinal);
            return at < 0 ? json : json.Substring(0, at);
        }

        [Test]
        public static void Remote_decisions_equal_in_process_decisions_and_the_server_counts()
        {
            using (var server = new Server())
            using (var remote = new RemoteEngine("unix:" + server.Socket, new RemoteOptions { Timeout = TimeSpan.FromSeconds(2) }))
            using (var local = Engine.FromPolicy(Policy))
            {
                string[] actions =
                {
                    @"{""tool"": ""shell"", ""agent"": {""id"": ""a""}, ""params"": {""cmd"": ""rm -rf /""}}",
                    Shell,
                    @"{""tool"": ""pay"", ""agent"": {""id"": ""a""}, ""params"": {""amount"": 3}}",
                    @"{""tool"": ""nothing"", ""agent"": {""id"": ""a""}}",
                    @"{""agent"": {""id"": ""a""}}",
                    @"{""tool"": ""x"", ""tool"": ""y"", ""agent"": {""id"": ""a""}}",
                    "not json",
                    Search, Search,
                };
                foreach (var action in actions)
                {
                    Assert.Equal(Comparable(local.Evaluate(action)), Comparable(remote.Evaluate(action)), action);
                }
                var third = remote.Evaluate(Search);
                Assert.Equal(DecisionCode.RateLimited, third.Code, "the third search");
                var call = new ToolCall("shell", "a", new System.Collections.Generic.Dictionary<string, object> { { "x", double.NaN } });
                var invalid = remote.Evaluate(call);
                Assert.Equal(DecisionCode.InvalidAction, invalid.Code, "NaN argument");
                Assert.Equal(local.Evaluate(call).Reason, invalid.Reason, "the binding's reason");
            }
        }

        [Test]
        public static void Approvals_are_granted_and_consumed_on_the_server()
        {
            using (var server = new Server())
            using (var remote = new RemoteEngine("unix:" + server.Socket, new RemoteOptions { Timeout = TimeSpan.FromSeconds(2) }))
            {
                const string pay = @"{""tool"": ""pay"", ""agent"": {""id"": ""a""}, ""params"": {""amount"": 5}}";
                var before = remote.Evaluate(pay);
                Assert.Equal(DecisionCode.ApprovalRequired, before.Code, "before");
                Assert.Equal(before.ActionHash, remote.Approve(pay, TimeSpan.FromMinutes(1)), "hash");
                Assert.Equal(DecisionCode.Approved, remote.Evaluate(pay).Code, "after");
                Assert.Equal(DecisionCode.ApprovalRequired, remote.Evaluate(pay).Code, "used up");
                remote.ApproveHash(before.ActionHash, TimeSpan.FromMinutes(1));
                Assert.Equal(DecisionCode.Approved, remote.Evaluate(pay).Code, "by hash");
                Assert.Throws<InvalidArgumentException>(() => remote.ApproveHash("sha256:zz", TimeSpan.FromMinutes(1)), "bad hash");
                Assert.Throws<InvalidArgumentException>(() => remote.Approve(pay, TimeSpan.Zero), "ttl 0");
            }
        }

        [Test]
        public static void A_dead_server_gives_unavailable_or_the_fallback_and_the_client_recovers()
        {
            using (var server = new Server())
            using (var fallback = Engine.FromPolicy(FallbackPolicy))
            using (var remote = new RemoteEngine("unix:" + server.Socket, new RemoteOptions
            {
                Timeout = TimeSpan.FromMilliseconds(300), BreakerFailures = 2, BreakerCooldown = TimeSpan.FromMilliseconds(50),
            }))
            using (var withFallback = new RemoteEngine("unix:" + server.Socket, new RemoteOptions { Fallback = fallback }))
            {
                Assert.True(remote.Evaluate(Shell).Allowed, "server up");
                server.Kill();
                for (int i = 0; i < 5; i++)
                {
                    var d = remote.Evaluate(Shell);
                    Assert.True(!d.Allowed && d.Effect == Effect.Deny && d.Code == DecisionCode.Unavailable && !d.Fallback, "killed: " + d);
                }
                var fb = withFallback.Evaluate(Shell);
                Assert.True(!fb.Allowed && fb.Fallback && fb.PolicyName == "fallback", "fallback shell: " + fb);
                Assert.Contains("\"fallback\":true", fb.Json, "fallback JSON");
                var fbSearch = withFallback.Evaluate(Search);
                Assert.True(fbSearch.Allowed && fbSearch.Fallback && fbSearch.Rule == "fallback-search", "fallback search: " + fbSearch);
                Assert.Throws<UnavailableException>(() => remote.Approve(Shell, TimeSpan.FromMinutes(1)), "approve while down");

                server.Start();
                Decision after = null;
                for (int i = 0; i < 100; i++)
                {
                    after = remote.Evaluate(Shell);
                    if (after.Allowed) break;
                    Thread.Sleep(20);
                }
                Assert.True(after.Allowed && !after.Fallback, "recovered: " + after);

                server.Signal("STOP");
                server.WaitStopped();
                using (var stopped = new RemoteEngine("unix:" + server.Socket, new RemoteOptions { Timeout = TimeSpan.FromMilliseconds(100), BreakerFailures = 0 }))
                {
                    for (int i = 0; i < 3; i++)
                    {
                        var d = stopped.Evaluate(Shell);
                        Assert.Equal(DecisionCode.Unavailable, d.Code, "stopped");
                        Assert.Contains("did not answer within 100 ms", d.Reason, "stopped reason");
                    }
                }
                server.Signal("CONT");
            }
        }

        [Test]
        public static void Over_tcp_the_token_is_required_and_sent()
        {
            int port;
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            string token = Path.GetTempFileName();
            File.WriteAllText(token, "0123456789abcdef0123\n");
            try
            {
                using (var server = new Server("--listen tcp:127.0.0.1:" + port + " --token-file \"" + token + "\""))
                using (var good = new RemoteEngine("tcp:127.0.0.1:" + port, new RemoteOptions { Timeout = TimeSpan.FromSeconds(2), Token = "0123456789abcdef0123" }))
                using (var anonymous = new RemoteEngine("http://127.0.0.1:" + port, new RemoteOptions { Timeout = TimeSpan.FromSeconds(2) }))
                {
                    Decision d = null;
                    for (int i = 0; i < 100; i++)
                    {
                        d = good.Evaluate(Shell);
                        if (d.Allowed) break;
                        Thread.Sleep(25);
                    }
                    Assert.True(d.Allowed, "with the token: " + d);
                    var refused = anonymous.Evaluate(Shell);
                    Assert.True(!refused.Allowed && refused.Code == DecisionCode.Unavailable, "without: " + refused);
                    Assert.Contains("401", refused.Reason, "reason");
                }
            }
            finally
            {
                File.Delete(token);
            }
        }

        [Test]
        public static void Answers_that_are_not_decisions_give_unavailable()
        {
            string[] answers =
            {
                Http("500 Internal Server Error", "{}"),
                Http("200 OK", "allow"),
                Http("200 OK", "{\"effect\":\"deny\",\"allowed\":true,\"code\":\"rule\",\"rule\":null,\"reason\":\"\",\"matched\":[],\"shadow\":[],\"params\":null,\"policy\":{\"name\":\"p\",\"version\":null}}"),
                Http("200 OK", "{\"effect\":\"allow\",\"allowed\":true,\"code\":\"rule\",\"rule\":\"r\",\"reason\":\"\",\"matched\":[],\"shadow\":[],\"params\":null,\"policy\":{\"name\":\"p\",\"version\":null},\"fallback\":true}"),
                "HTTP/1.1 200 OK\r\n\r\n{\"effect\":\"allow\"}",
                "garbage\r\n\r\n",
            };
            foreach (var answer in answers)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                int port = ((IPEndPoint)listener.LocalEndpoint).Port;
                var serving = new Thread(() =>
                {
                    using (var client = listener.AcceptTcpClient())
                    {
                        var stream = client.GetStream();
                        var buffer = new byte[4096];
                        stream.Read(buffer, 0, buffer.Length);
                        byte[] bytes = Encoding.ASCII.GetBytes(answer);
                        stream.Write(bytes, 0, bytes.Length);
                        Thread.Sleep(100);
                    }
                });
                serving.Start();
                using (var remote = new RemoteEngine("tcp:127.0.0.1:" + port, new RemoteOptions { Timeout = TimeSpan.FromSeconds(1), BreakerFailures = 0 }))
                {
                    var d = remote.Evaluate(Search);
                    Assert.True(!d.Allowed && d.Code == DecisionCode.Unavailable, answer + " gave " + d);
                }
                serving.Join();
                listener.Stop();
            }
        }

        private static string Http(string status, string body)
        {
            return "HTTP/1.1 " + status + "\r\nContent-Length: " + Encoding.UTF8.GetByteCount(body) + "\r\n\r\n" + body;
        }

        [Test]
        public static void Malformed_endpoints_and_options_are_refused()
        {
            foreach (var bad in new[] { "", "unix:", "tcp:nohost", "tcp:127.0.0.1:99999", "ftp://x:1", "localhost:80", "unix:/" + new string('x', 200) })
            {
                Assert.Throws<InvalidArgumentException>(() => new RemoteEngine(bad), bad);
            }
            Assert.Throws<InvalidArgumentException>(() => new RemoteEngine("unix:/x", new RemoteOptions { Timeout = TimeSpan.Zero }), "timeout 0");
        }
    }
}
