using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace Portcullis.Tests
{
    /// <summary>
    /// RemoteEngine over HTTPS against a real <c>portcullis serve</c> with a TLS listener on
    /// 127.0.0.1 and a bearer token. The certificates are made at test time with the openssl
    /// command (<c>make deps</c> installs it): a private CA and a server certificate for
    /// IP 127.0.0.1 signed by it, an expired one, and an unrelated CA.
    /// </summary>
    internal static class RemoteTlsTests
    {
        private const string Token = "0123456789abcdef0123";
        private const string Rm = @"{""tool"": ""shell"", ""agent"": {""id"": ""a""}, ""params"": {""cmd"": ""rm -rf /""}}";

        /// <summary>The certificates and the token file in a private directory, deleted on Dispose.</summary>
        private sealed class Pki : IDisposable
        {
            internal readonly string Dir;
            internal readonly string GoodCa;
            internal readonly string OtherCa;
            internal readonly string Cert;
            internal readonly string Expired;
            internal readonly string Key;
            internal readonly string Localhost;
            internal readonly string LocalhostKey;
            internal readonly string TokenFile;

            private readonly string keyAlgorithm;

            /// <summary>EC P-256 keys, or RSA 2048 with <paramref name="rsa"/>.</summary>
            internal Pki(bool rsa = false)
            {
                keyAlgorithm = rsa ? "RSA -pkeyopt rsa_keygen_bits:2048" : "EC -pkeyopt ec_paramgen_curve:P-256";
                Dir = Path.Combine(Path.GetTempPath(), "portcullis-tls-" + Guid.NewGuid().ToString("N").Substring(0, 12));
                Directory.CreateDirectory(Dir);
                GoodCa = MakeCa("good");
                OtherCa = MakeCa("other");
                Key = Path.Combine(Dir, "server.key");
                OpenSsl("genpkey -algorithm " + keyAlgorithm + " -out server.key");
                File.WriteAllText(Path.Combine(Dir, "server.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
                                  "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\nauthorityKeyIdentifier=keyid\n");
                OpenSsl("req -new -key server.key -subj /CN=127.0.0.1 -out server.csr");
                Cert = Sign("server.pem", 2, "1");
                // Valid until a day before it was issued.
                Expired = Sign("expired.pem", 3, "-1");
                // For the name localhost only (DNS entry), with its own key.
                LocalhostKey = Path.Combine(Dir, "localhost.key");
                OpenSsl("genpkey -algorithm " + keyAlgorithm + " -out localhost.key");
                File.WriteAllText(Path.Combine(Dir, "localhost.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
                                  "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\nauthorityKeyIdentifier=keyid\n");
                OpenSsl("req -new -key localhost.key -subj /CN=localhost -out localhost.csr");
                OpenSsl("x509 -req -in localhost.csr -CA good-ca.pem -CAkey good-ca.key -set_serial 4 -days 1 -extfile localhost.ext -out localhost.pem");
                Localhost = Path.Combine(Dir, "localhost.pem");
                TokenFile = Path.Combine(Dir, "token");
                File.WriteAllText(TokenFile, Token + "\n");
            }

            private string MakeCa(string name)
            {
                OpenSsl("genpkey -algorithm " + keyAlgorithm + " -out " + name + "-ca.key");
                File.WriteAllText(Path.Combine(Dir, name + "-ca.ext"),
                                  "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n");
                OpenSsl("req -new -key " + name + "-ca.key -subj \"/CN=portcullis test " + name + " CA\" -out " + name + "-ca.csr");
                OpenSsl("x509 -req -in " + name + "-ca.csr -signkey " + name + "-ca.key -days 1 -extfile " + name + "-ca.ext -out " + name + "-ca.pem");
                return Path.Combine(Dir, name + "-ca.pem");
            }

            private string Sign(string file, int serial, string days)
            {
                OpenSsl("x509 -req -in server.csr -CA good-ca.pem -CAkey good-ca.key -set_serial " + serial + " -days " + days +
                        " -extfile server.ext -out " + file);
                return Path.Combine(Dir, file);
            }

            private void OpenSsl(string args)
            {
                var info = new ProcessStartInfo("openssl", args)
                {
                    UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = Dir,
                };
                Process p;
                try
                {
                    p = Process.Start(info);
                }
                catch (System.ComponentModel.Win32Exception e)
                {
                    throw new AssertionException("the openssl command is not installed (make deps installs it): " + e.Message);
                }
                using (p)
                {
                    p.StandardOutput.ReadToEnd();
                    string err = p.StandardError.ReadToEnd();
                    p.WaitForExit();
                    if (p.ExitCode != 0) throw new AssertionException("openssl " + args + " failed: " + err);
                }
            }

            /// <summary>A server with a TLS listener on 127.0.0.1:<paramref name="port"/> presenting <paramref name="cert"/>.</summary>
            internal RemoteTests.Server Serve(int port, string cert, string key = null)
            {
                return new RemoteTests.Server("--listen tcp:127.0.0.1:" + port + " --tls-cert \"" + cert + "\" --tls-key \"" + (key ?? Key) +
                                              "\" --token-file \"" + TokenFile + "\" --watch-interval-ms 0");
            }

            public void Dispose()
            {
                try
                {
                    Directory.Delete(Dir, true);
                }
                catch (IOException)
                {
                }
            }
        }

        private static int FreePort()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            return port;
        }

        private static RemoteOptions Options(string caFile, string token = Token, int breakerFailures = 0)
        {
            return new RemoteOptions { Timeout = TimeSpan.FromSeconds(5), Token = token, CaFile = caFile, BreakerFailures = breakerFailures };
        }

        /// <summary>Waits (5 s at most) until the TLS listener answers a client that trusts the right CA.</summary>
        private static void WaitReady(Pki pki, int port)
        {
            using (var good = new RemoteEngine("https://127.0.0.1:" + port, Options(pki.GoodCa)))
            {
                Decision d = null;
                for (int i = 0; i < 200; i++)
                {
                    d = good.Evaluate(RemoteTests.Shell);
                    if (d.Allowed) return;
                    Thread.Sleep(25);
                }
                throw new AssertionException("the TLS listener did not answer within 5 s: " + d);
            }
        }

        private static void AssertUnavailable(Decision d, string reasonPart, string what)
        {
            Assert.True(!d.Allowed && d.Effect == Effect.Deny && d.Code == DecisionCode.Unavailable && !d.Fallback, what + ": " + d);
            Assert.Contains(reasonPart, d.Reason, what + " reason");
        }

        /// <summary>The client ends (address:port in hex) of the connections established to the server's port, from /proc/net/tcp.</summary>
        private static string Established(int port)
        {
            string local = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
            var clients = new System.Collections.Generic.List<string>();
            foreach (var line in File.ReadAllLines("/proc/net/tcp"))
            {
                var fields = line.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 3 && fields[1].EndsWith(local, StringComparison.Ordinal) && fields[3] == "01") clients.Add(fields[2]);
            }
            return string.Join(" ", clients);
        }

        [Test]
        public static void Over_https_decisions_equal_in_process_decisions_on_one_kept_connection()
        {
            int port = FreePort();
            using (var pki = new Pki())
            using (var server = pki.Serve(port, pki.Cert))
            using (var local = Engine.FromPolicy(RemoteTests.Policy))
            {
                WaitReady(pki, port);
                using (var remote = new RemoteEngine("https://127.0.0.1:" + port + "/", Options(pki.GoodCa)))
                {
                    Assert.True(remote.Evaluate(RemoteTests.Shell).Allowed, "the first call");
                    string first = Established(port);
                    Assert.True(first.Length > 0 && first.IndexOf(' ') < 0, "one connection after the first call: " + first);
                    foreach (var action in new[] { RemoteTests.Shell, Rm, @"{""tool"": ""nothing"", ""agent"": {""id"": ""a""}}", "not json" })
                    {
                        Assert.Equal(RemoteTests.Comparable(local.Evaluate(action)), RemoteTests.Comparable(remote.Evaluate(action)), action);
                    }
                    const string pay = @"{""tool"": ""pay"", ""agent"": {""id"": ""a""}, ""params"": {""amount"": 5}}";
                    var before = remote.Evaluate(pay);
                    Assert.Equal(DecisionCode.ApprovalRequired, before.Code, "before the grant");
                    Assert.Equal(before.ActionHash, remote.Approve(pay, TimeSpan.FromMinutes(1)), "granted hash");
                    Assert.Equal(DecisionCode.Approved, remote.Evaluate(pay).Code, "after the grant");
                    // Every later call went over the first call's kept-alive TLS connection.
                    Assert.Equal(first, Established(port), "the connection to the server after the other calls");
                }
            }
        }

        [Test]
        public static void A_certificate_the_client_does_not_trust_gives_unavailable_and_counts_towards_the_breaker()
        {
            int port = FreePort();
            using (var pki = new Pki())
            using (var server = pki.Serve(port, pki.Cert))
            {
                WaitReady(pki, port);
                using (var other = new RemoteEngine("https://127.0.0.1:" + port, Options(pki.OtherCa, breakerFailures: 2)))
                {
                    for (int i = 0; i < 2; i++) AssertUnavailable(other.Evaluate(RemoteTests.Shell), "certificate is not signed by a CA of CaFile", "another CA");
                    AssertUnavailable(other.Evaluate(RemoteTests.Shell), "circuit open", "after two failed handshakes");
                    Assert.Throws<UnavailableException>(() => other.Approve(RemoteTests.Shell, TimeSpan.FromMinutes(1)), "approve");
                }
                using (var system = new RemoteEngine("https://127.0.0.1:" + port, Options(null)))
                {
                    AssertUnavailable(system.Evaluate(RemoteTests.Shell), "certificate is not signed by a CA the system trusts", "the system's roots");
                }
                using (var fallback = Engine.FromPolicy(RemoteTests.Policy))
                {
                    var options = Options(pki.OtherCa);
                    options.Fallback = fallback;
                    using (var withFallback = new RemoteEngine("https://127.0.0.1:" + port, options))
                    {
                        var d = withFallback.Evaluate(RemoteTests.Shell);
                        Assert.True(d.Fallback && d.Allowed, "the fallback decides: " + d);
                    }
                }
            }
        }

        [Test]
        public static void A_host_the_certificate_does_not_name_or_an_expired_certificate_gives_unavailable()
        {
            int port = FreePort(), expiredPort = FreePort(), namedPort = FreePort();
            using (var pki = new Pki())
            using (var server = pki.Serve(port, pki.Cert))
            {
                WaitReady(pki, port);
                using (var byName = new RemoteEngine("https://localhost:" + port, Options(pki.GoodCa)))
                {
                    AssertUnavailable(byName.Evaluate(RemoteTests.Shell), "certificate is not issued for localhost", "localhost");
                }
                using (var namedServer = pki.Serve(namedPort, pki.Localhost, pki.LocalhostKey))
                using (var named = new RemoteEngine("https://localhost:" + namedPort, Options(pki.GoodCa)))
                using (var byIp = new RemoteEngine("https://127.0.0.1:" + namedPort, Options(pki.GoodCa)))
                {
                    Decision d = null;
                    for (int i = 0; i < 200 && (d == null || !d.Allowed); i++)
                    {
                        if (i > 0) Thread.Sleep(25);
                        d = named.Evaluate(RemoteTests.Shell);
                    }
                    Assert.True(d.Allowed && d.Rule == "shell", "a certificate for the DNS name localhost: " + d);
                    AssertUnavailable(byIp.Evaluate(RemoteTests.Shell), "certificate is not issued for 127.0.0.1", "127.0.0.1");
                }
                using (var expiredServer = pki.Serve(expiredPort, pki.Expired))
                using (var expired = new RemoteEngine("https://127.0.0.1:" + expiredPort, Options(pki.GoodCa)))
                {
                    Decision d = null;
                    for (int i = 0; i < 200; i++)
                    {
                        d = expired.Evaluate(RemoteTests.Shell);
                        if (d.Reason.Contains("certificate")) break;
                        Thread.Sleep(25);
                    }
                    AssertUnavailable(d, "certificate is outside its validity period", "expired");
                }
            }
        }

        [Test]
        public static void Without_the_right_token_or_in_plain_http_it_is_unavailable()
        {
            int port = FreePort();
            using (var pki = new Pki())
            using (var server = pki.Serve(port, pki.Cert))
            {
                WaitReady(pki, port);
                using (var none = new RemoteEngine("https://127.0.0.1:" + port, Options(pki.GoodCa, token: null)))
                using (var wrong = new RemoteEngine("https://127.0.0.1:" + port, Options(pki.GoodCa, token: "fedcba9876543210fedc")))
                using (var plain = new RemoteEngine("http://127.0.0.1:" + port, new RemoteOptions { Timeout = TimeSpan.FromSeconds(5), Token = Token }))
                {
                    AssertUnavailable(none.Evaluate(RemoteTests.Shell), "answered 401", "no token");
                    AssertUnavailable(wrong.Evaluate(RemoteTests.Shell), "answered 401", "wrong token");
                    AssertUnavailable(plain.Evaluate(RemoteTests.Shell), "", "plain HTTP to the TLS listener");
                }
            }
        }

        [Test]
        public static void The_timeout_bounds_the_tls_handshake()
        {
            using (var pki = new Pki())
            {
                // Connections wait in the backlog: the client's hello is never answered.
                var silent = new TcpListener(IPAddress.Loopback, 0);
                silent.Start();
                try
                {
                    int port = ((IPEndPoint)silent.LocalEndpoint).Port;
                    var options = Options(pki.GoodCa);
                    options.Timeout = TimeSpan.FromMilliseconds(200);
                    using (var remote = new RemoteEngine("https://127.0.0.1:" + port, options))
                    {
                        AssertUnavailable(remote.Evaluate(RemoteTests.Shell), "did not answer within 200 ms", "silent server");
                    }
                }
                finally
                {
                    silent.Stop();
                }
            }
        }

        [Test]
        public static void Malformed_https_endpoints_and_ca_files_are_refused()
        {
            using (var pki = new Pki())
            {
                foreach (var bad in new[] { "https://", "https://:443", "https://host", "https://bad_host:1", "https://-x:1", "https://127.0.0.1:0", "https://[::1:1", "https://[127.0.0.1]:1", "http://pc.internal:80", "tcp:pc.internal:80" })
                {
                    Assert.Throws<InvalidArgumentException>(() => new RemoteEngine(bad), bad);
                }
                Assert.Throws<InvalidArgumentException>(() => new RemoteEngine("https://127.0.0.1:1", Options(Path.Combine(pki.Dir, "missing.pem"))), "missing CA file");
                Assert.Throws<InvalidArgumentException>(() => new RemoteEngine("https://127.0.0.1:1", Options(pki.TokenFile)), "no certificate in the CA file");
                Assert.Throws<InvalidArgumentException>(() => new RemoteEngine("http://127.0.0.1:1", Options(pki.GoodCa)), "a CA file for plain HTTP");
                new RemoteEngine("https://portcullis.internal:8443", Options(pki.GoodCa)).Dispose();
                new RemoteEngine("https://[::1]:8443", Options(pki.GoodCa)).Dispose();
                new RemoteEngine("tcp:[::1]:8080").Dispose();
                new RemoteEngine("http://::1:8080").Dispose();
            }
        }

        [Test]
        public static void Off_mono_the_chain_is_checked_against_the_ca_file_only()
        {
            int port = FreePort(), expiredPort = FreePort();
            RemoteTls.UseMonoTrust = false;
            try
            {
                using (var pki = new Pki(rsa: true))
                using (var server = pki.Serve(port, pki.Cert))
                using (var expiredServer = pki.Serve(expiredPort, pki.Expired))
                {
                    WaitReady(pki, port);
                    using (var other = new RemoteEngine("https://127.0.0.1:" + port, Options(pki.OtherCa)))
                    using (var byName = new RemoteEngine("https://localhost:" + port, Options(pki.GoodCa)))
                    using (var expired = new RemoteEngine("https://127.0.0.1:" + expiredPort, Options(pki.GoodCa)))
                    {
                        AssertUnavailable(other.Evaluate(RemoteTests.Shell), "certificate is not signed by a CA of CaFile", "another CA");
                        AssertUnavailable(byName.Evaluate(RemoteTests.Shell), "certificate is not issued for localhost", "localhost");
                        Decision d = null;
                        for (int i = 0; i < 200; i++)
                        {
                            d = expired.Evaluate(RemoteTests.Shell);
                            if (d.Reason.Contains("certificate")) break;
                            Thread.Sleep(25);
                        }
                        AssertUnavailable(d, "certificate is outside its validity period", "expired");
                    }
                }
            }
            finally
            {
                RemoteTls.UseMonoTrust = true;
            }
        }

        [Test]
        public static void Certificate_names_are_matched_in_the_subject_alt_name_only()
        {
            Assert.True(RemoteTls.DnsMatches("pc.example.com", "pc.example.com"), "exact");
            Assert.True(RemoteTls.DnsMatches("*.example.com", "pc.example.com"), "wildcard");
            Assert.True(!RemoteTls.DnsMatches("*.example.com", "a.pc.example.com"), "wildcard is one label");
            Assert.True(!RemoteTls.DnsMatches("*.example.com", "example.com"), "wildcard needs a label");
            Assert.True(!RemoteTls.DnsMatches("p*.example.com", "pc.example.com"), "partial wildcard");
            Assert.True(!RemoteTls.DnsMatches("example.com", "pc.example.com"), "other name");
        }
    }
}
