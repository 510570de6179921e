using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace Portcullis
{
    /// <summary>Options of a <see cref="RemoteEngine"/>.</summary>
    public sealed class RemoteOptions
    {
        /// <summary>Time allowed for one call: connecting, sending and reading the whole answer (default 250 ms).</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(250);

        /// <summary>Sent as <c>Authorization: Bearer</c> over TCP (never over a Unix socket).</summary>
        public string Token { get; set; }

        /// <summary>
        /// An in-process engine that decides when the remote engine is unavailable; its decisions
        /// have <see cref="Decision.Fallback"/> set. The remote engine does not dispose it.
        /// </summary>
        public Engine Fallback { get; set; }

        /// <summary>Consecutive failures (transport errors, timeouts, 5xx) that open the circuit breaker (default 5; 0 never opens it).</summary>
        public int BreakerFailures { get; set; } = 5;

        /// <summary>How long an open breaker fails calls at once before one call probes <c>GET /readyz</c> (default 500 ms).</summary>
        public TimeSpan BreakerCooldown { get; set; } = TimeSpan.FromMilliseconds(500);
    }

    /// <summary>
    /// A client of <c>portcullis serve</c> with the local <see cref="Engine"/>'s Evaluate and
    /// Approve, over a Unix socket or plain HTTP on TCP (reach a TLS listener through a local
    /// proxy). It fails closed: a failed call (no connection, timeout, an error status, an
    /// answer that is not a valid decision) is a deny with code <see cref="DecisionCode.Unavailable"/>
    /// and a reason, or, with <see cref="RemoteOptions.Fallback"/>, that engine's decision with
    /// <see cref="Decision.Fallback"/> set. Evaluate never throws for a failed call, and a
    /// decision is never retried (no action is counted twice, no grant consumed twice).
    /// Thread-safe.
    /// </summary>
    public sealed class RemoteEngine : IDisposable
    {
        private const int MaxAnswerBytes = 16 << 20;
        private readonly EndPoint endpoint;
        private readonly bool unix;
        private readonly string describe;
        private readonly RemoteOptions options;
        private readonly ConcurrentBag<Socket> pool = new ConcurrentBag<Socket>();
        private readonly object breakerLock = new object();
        private int failures;
        private DateTime openUntil;
        private string lastError = "";
        private int probing;
        private bool disposed;

        /// <summary>A client of the server at <c>unix:PATH</c> or <c>tcp:IP:PORT</c> / <c>http://IP:PORT</c>. Nothing connects until the first call.</summary>
        /// <exception cref="InvalidArgumentException">The endpoint or an option is malformed.</exception>
        public RemoteEngine(string endpoint, RemoteOptions options = null)
        {
            if (endpoint == null) throw new ArgumentNullException(nameof(endpoint));
            this.options = options ?? new RemoteOptions();
            if (this.options.Timeout <= TimeSpan.Zero) throw new InvalidArgumentException("Timeout must be positive");
            if (this.options.BreakerFailures < 0) throw new InvalidArgumentException("BreakerFailures must be 0 or more");
            describe = endpoint;
            if (endpoint.StartsWith("unix:", StringComparison.Ordinal))
            {
                string path = endpoint.Substring(5);
                if (path.Length == 0) throw new InvalidArgumentException(endpoint + ": the socket path is empty");
                this.endpoint = new UnixSocketEndPoint(path);
                unix = true;
                return;
            }
            string hostPort = endpoint.StartsWith("tcp:", StringComparison.Ordinal) ? endpoint.Substring(4)
                : endpoint.StartsWith("http://", StringComparison.Ordinal) ? endpoint.Substring(7).TrimEnd('/')
                : null;
            int colon = hostPort == null ? -1 : hostPort.LastIndexOf(':');
            IPAddress ip;
            int port;
            if (colon <= 0 || !IPAddress.TryParse(hostPort.Substring(0, colon).Trim('[', ']'), out ip) ||
                !int.TryParse(hostPort.Substring(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) ||
                port < 1 || port > 65535)
            {
                throw new InvalidArgumentException(endpoint + ": expected unix:PATH, tcp:IP:PORT or http://IP:PORT");
            }
            this.endpoint = new IPEndPoint(ip, port);
        }

        /// <summary>Decides an action given as JSON text on the remote engine. Never throws for a failed call.</summary>
        /// <exception cref="ArgumentNullException"><paramref name="actionJson"/> is null.</exception>
        public Decision Evaluate(string actionJson)
        {
            if (actionJson == null) throw new ArgumentNullException(nameof(actionJson));
            string cause;
            try
            {
                var answer = Call("POST", "/v1/decide", actionJson);
                if (answer.Status == 200)
                {
                    Decision decision;
                    if (TryDecision(answer.Body, out decision)) return decision;
                    cause = "the answer of " + describe + " is not a valid decision";
                    Failed(cause);
                }
                else
                {
                    cause = describe + " answered " + answer.Status + ": " + Clip(answer.Body);
                    if (answer.Status >= 500) Failed(cause);
                }
            }
            catch (RemoteFailure e)
            {
                cause = e.Message;
            }
            return Unavailable(actionJson, cause);
        }

        /// <summary>Decides a tool call on the remote engine. Never throws for a failed call.</summary>
        public Decision Evaluate(ToolCall call)
        {
            if (call == null) throw new ArgumentNullException(nameof(call));
            string json, problem;
            if (call.TryToJson(out json, out problem)) return Evaluate(json);
            // The server decides a value that is not JSON as invalid_action; the reason stays ours.
            var d = Evaluate("null");
            return d.Code == DecisionCode.InvalidAction ? d.WithReason(problem) : d;
        }

        /// <summary>Grants an approval on the remote engine for an action (JSON text) and returns its hash.</summary>
        /// <exception cref="PortcullisException">The server could not be reached or refused the grant (<see cref="InvalidArgumentException"/> for a bad ttl, uses or action).</exception>
        public string Approve(string actionJson, TimeSpan ttl, int uses = 1)
        {
            if (actionJson == null) throw new ArgumentNullException(nameof(actionJson));
            return Grant("\"action\":" + actionJson, ttl, uses);
        }

        /// <summary>Grants an approval on the remote engine for the action whose hash is given.</summary>
        public void ApproveHash(string hash, TimeSpan ttl, int uses = 1)
        {
            if (hash == null) throw new ArgumentNullException(nameof(hash));
            var text = new StringBuilder("\"action_hash\":");
            JsonWriter.WriteString(text, hash);
            Grant(text.ToString(), ttl, uses);
        }

        private string Grant(string subject, TimeSpan ttl, int uses)
        {
            if (ttl < TimeSpan.Zero) throw new InvalidArgumentException("ttl must be at least 1 ms, got " + ttl);
            if (uses < 0) throw new InvalidArgumentException("uses must be between 1 and 4294967295, got " + uses);
            string body = "{" + subject + ",\"ttl_ms\":" + ((long)ttl.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) +
                          ",\"uses\":" + uses.ToString(CultureInfo.InvariantCulture) + "}";
            Answer answer;
            try
            {
                answer = Call("POST", "/v1/approve", body);
            }
            catch (RemoteFailure e)
            {
                throw new UnavailableException("the remote engine is unavailable: " + e.Message);
            }
            JsonObject root = null;
            try
            {
                root = JsonReader.Parse(answer.Body) as JsonObject;
            }
            catch (FormatException)
            {
            }
            object value = null;
            if (answer.Status == 200 && root != null && root.TryGetValue("action_hash", out value) && value is string &&
                ((string)value).StartsWith("sha256:", StringComparison.Ordinal))
            {
                return (string)value;
            }
            object error = null;
            var errorObject = root != null && root.TryGetValue("error", out error) ? error as JsonObject : null;
            object message = null, code = null;
            if (errorObject != null)
            {
                errorObject.TryGetValue("message", out message);
                errorObject.TryGetValue("code", out code);
            }
            string text = message as string ?? Clip(answer.Body);
            if (answer.Status >= 500 || answer.Status == 200)
            {
                if (answer.Status >= 500) Failed(describe + " answered " + answer.Status);
                throw new UnavailableException("the remote engine is unavailable: " + describe + " answered " + answer.Status + ": " + text);
            }
            if ((code as string) == "invalid_action") throw new InvalidArgumentException("invalid action: " + text);
            throw new InvalidArgumentException(text);
        }

        /// <summary>Closes pooled connections. The fallback engine stays open.</summary>
        public void Dispose()
        {
            disposed = true;
            Socket s;
            while (pool.TryTake(out s)) s.Dispose();
        }

        private Decision Unavailable(string actionJson, string cause)
        {
            var fallback = options.Fallback;
            if (fallback != null) return fallback.Evaluate(actionJson).AsFallback();
            var json = new StringBuilder("{\"effect\":\"deny\",\"allowed\":false,\"code\":\"unavailable\",\"rule\":null,\"reason\":");
            JsonWriter.WriteString(json, "the remote engine is unavailable: " + cause);
            json.Append(",\"matched\":[],\"shadow\":[],\"params\":null,\"retry_after_ms\":null,\"action_hash\":null,")
                .Append("\"policy\":{\"name\":\"\",\"version\":null},\"eval_ns\":0}");
            return Decision.FromJson(json.ToString());
        }

        private static bool TryDecision(string body, out Decision decision)
        {
            decision = null;
            try
            {
                var root = JsonReader.Parse(body) as JsonObject;
                object fallback;
                if (root == null || (root.TryGetValue("fallback", out fallback) && fallback is bool && (bool)fallback)) return false;
                decision = Decision.FromJson(body);
                return true;
            }
            catch (FormatException)
            {
                return false;
            }
            catch (PortcullisException)
            {
                return false;
            }
        }

        private static string Clip(string text)
        {
            return text.Length > 200 ? text.Substring(0, 200) : text;
        }

        private struct Answer
        {
            internal int Status;
            internal string Body;
        }

        /// <summary>A call that failed before an answer arrived.</summary>
        private sealed class RemoteFailure : Exception
        {
            internal RemoteFailure(string message) : base(message)
            {
            }
        }

        private Answer Call(string method, string path, string body)
        {
            if (disposed) throw new RemoteFailure("the remote engine was disposed");
            Admit();
            try
            {
                var answer = RoundTrip(method, path, body);
                if (answer.Status < 500)
                {
                    lock (breakerLock) failures = 0;
                }
                return answer;
            }
            catch (RemoteFailure e)
            {
                Failed(e.Message);
                throw;
            }
        }

        private void Admit()
        {
            int limit = options.BreakerFailures;
            string last;
            lock (breakerLock)
            {
                if (limit == 0 || failures < limit) return;
                if (DateTime.UtcNow < openUntil || Interlocked.CompareExchange(ref probing, 1, 0) != 0)
                {
                    throw new RemoteFailure("circuit open after " + failures + " consecutive failures (last: " + lastError + ")");
                }
            }
            try
            {
                var probe = RoundTrip("GET", "/readyz", null);
                if (probe.Status == 200)
                {
                    lock (breakerLock) failures = 0;
                    return;
                }
                last = describe + " is not ready (" + probe.Status + ")";
            }
            catch (RemoteFailure e)
            {
                last = e.Message;
            }
            finally
            {
                Interlocked.Exchange(ref probing, 0);
            }
            lock (breakerLock)
            {
                lastError = last;
                openUntil = DateTime.UtcNow + options.BreakerCooldown;
            }
            throw new RemoteFailure("circuit open; probe failed: " + last);
        }

        private void Failed(string message)
        {
            lock (breakerLock)
            {
                failures++;
                lastError = message;
                if (options.BreakerFailures > 0 && failures >= options.BreakerFailures)
                {
                    openUntil = DateTime.UtcNow + options.BreakerCooldown;
                }
            }
        }

        /// <summary>A pooled connection the server has not closed, or a new one.</summary>
        private Socket Checkout(DateTime deadline)
        {
            Socket s;
            while (pool.TryTake(out s))
            {
                // Readable while idle means closed (or garbage from the server): never reuse it.
                if (!s.Poll(0, SelectMode.SelectRead)) return s;
                s.Dispose();
            }
            s = unix ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                     : new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                var connect = s.BeginConnect(endpoint, null, null);
                if (!connect.AsyncWaitHandle.WaitOne(Remaining(deadline)))
                {
                    throw new RemoteFailure("the remote engine at " + describe + " did not answer within " + Millis() + " ms");
                }
                s.EndConnect(connect);
                return s;
            }
            catch (SocketException e)
            {
                s.Dispose();
                throw new RemoteFailure("cannot connect to " + describe + ": " + e.Message);
            }
            catch (RemoteFailure)
            {
                s.Dispose();
                throw;
            }
        }

        private string Millis()
        {
            return ((long)options.Timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        }

        private static int Remaining(DateTime deadline)
        {
            double ms = (deadline - DateTime.UtcNow).TotalMilliseconds;
            return ms < 1 ? 1 : ms > int.MaxValue ? int.MaxValue : (int)ms;
        }

        /// <summary>One HTTP/1.1 round trip, sent once.</summary>
        private Answer RoundTrip(string method, string path, string body)
        {
            var deadline = DateTime.UtcNow + options.Timeout;
            var s = Checkout(deadline);
            bool keep = false;
            try
            {
                byte[] payload = body == null ? new byte[0] : new UTF8Encoding(false, true).GetBytes(body);
                var head = new StringBuilder();
                head.Append(method).Append(' ').Append(path).Append(" HTTP/1.1\r\nHost: portcullis\r\nContent-Type: application/json\r\n");
                if (options.Token != null && !unix) head.Append("Authorization: Bearer ").Append(options.Token).Append("\r\n");
                head.Append("Content-Length: ").Append(payload.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n\r\n");
                byte[] headBytes = Encoding.ASCII.GetBytes(head.ToString());
                s.SendTimeout = Remaining(deadline);
                s.Send(headBytes);
                if (payload.Length > 0) s.Send(payload);
                var answer = Read(s, deadline, out keep);
                return answer;
            }
            catch (SocketException e)
            {
                if (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
                {
                    throw new RemoteFailure("the remote engine at " + describe + " did not answer within " + Millis() + " ms");
                }
                throw new RemoteFailure("the remote engine at " + describe + " failed: " + e.Message);
            }
            catch (ObjectDisposedException e)
            {
                throw new RemoteFailure("the remote engine at " + describe + " failed: " + e.Message);
            }
            catch (DecoderFallbackException)
            {
                throw new RemoteFailure("the answer of " + describe + " is not UTF-8");
            }
            finally
            {
                if (keep && !disposed) pool.Add(s);
                else s.Dispose();
            }
        }

        private Answer Read(Socket s, DateTime deadline, out bool keep)
        {
            var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int headEnd = -1;
            int length = -1;
            int status = 0;
            keep = false;
            while (true)
            {
                if (headEnd < 0)
                {
                    headEnd = IndexOfHeadEnd(buffer);
                    if (headEnd >= 0)
                    {
                        string head = Encoding.ASCII.GetString(buffer.GetBuffer(), 0, headEnd).ToLowerInvariant();
                        if (head.Length < 12 || !head.StartsWith("http/1.", StringComparison.Ordinal) ||
                            !int.TryParse(head.Substring(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out status))
                        {
                            throw new RemoteFailure("the answer of " + describe + " is not HTTP");
                        }
                        foreach (var line in head.Split(new[] { "\r\n" }, StringSplitOptions.None))
                        {
                            if (line.StartsWith("content-length:", StringComparison.Ordinal) &&
                                !int.TryParse(line.Substring(15).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out length))
                            {
                                throw new RemoteFailure("the answer of " + describe + " has a bad content-length");
                            }
                        }
                        if (length < 0) throw new RemoteFailure("the answer of " + describe + " has no content-length");
                        if (length > MaxAnswerBytes) throw new RemoteFailure("the answer of " + describe + " is too large");
                        keep = head.IndexOf("\r\nconnection: close", StringComparison.Ordinal) < 0;
                        headEnd += 4;
                    }
                    else if (buffer.Length > 64 * 1024)
                    {
                        throw new RemoteFailure("the answer's headers from " + describe + " are too large");
                    }
                }
                if (headEnd >= 0 && buffer.Length >= headEnd + length)
                {
                    if (buffer.Length > headEnd + length) keep = false;
                    string body = new UTF8Encoding(false, true).GetString(buffer.GetBuffer(), headEnd, length);
                    return new Answer { Status = status, Body = body };
                }
                s.ReceiveTimeout = Remaining(deadline);
                if (DateTime.UtcNow >= deadline)
                {
                    throw new RemoteFailure("the remote engine at " + describe + " did not answer within " + Millis() + " ms");
                }
                int n = s.Receive(chunk);
                if (n == 0) throw new RemoteFailure("the remote engine at " + describe + " closed the connection");
                buffer.Write(chunk, 0, n);
            }
        }

        private static int IndexOfHeadEnd(MemoryStream buffer)
        {
            byte[] b = buffer.GetBuffer();
            int end = (int)buffer.Length;
            for (int i = 0; i + 3 < end; i++)
            {
                if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') return i;
            }
            return -1;
        }
    }

    /// <summary>A Unix socket address (sockaddr_un), for netstandard2.0 which has no such end point.</summary>
    internal sealed class UnixSocketEndPoint : EndPoint
    {
        // sun_family (2 bytes) + sun_path (108 bytes) on Linux.
        private const int PathOffset = 2;
        private const int PathCapacity = 108;
        private readonly string path;

        internal UnixSocketEndPoint(string path)
        {
            if (Encoding.UTF8.GetByteCount(path) >= PathCapacity)
            {
                throw new InvalidArgumentException("unix:" + path + ": the socket path is longer than " + (PathCapacity - 1) + " bytes");
            }
            this.path = path;
        }

        public override AddressFamily AddressFamily
        {
            get { return AddressFamily.Unix; }
        }

        public override SocketAddress Serialize()
        {
            byte[] bytes = Encoding.UTF8.GetBytes(path);
            var address = new SocketAddress(AddressFamily.Unix, PathOffset + bytes.Length + 1);
            for (int i = 0; i < bytes.Length; i++) address[PathOffset + i] = bytes[i];
            address[PathOffset + bytes.Length] = 0;
            return address;
        }

        public override EndPoint Create(SocketAddress socketAddress)
        {
            var bytes = new byte[Math.Max(0, socketAddress.Size - PathOffset)];
            int n = 0;
            for (; n < bytes.Length && socketAddress[PathOffset + n] != 0; n++) bytes[n] = socketAddress[PathOffset + n];
            return new UnixSocketEndPoint(Encoding.UTF8.GetString(bytes, 0, n));
        }

        public override string ToString()
        {
            return "unix:" + path;
        }
    }
}
