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
    /// <summary>
    /// A client of <c>portcullis serve</c> with the local <see cref="Engine"/>'s Evaluate and
    /// Approve, over a Unix socket, plain HTTP on TCP, or HTTPS (TLS 1.2 or later, the
    /// certificate checked against <see cref="RemoteOptions.CaFile"/> or the system's roots and
    /// the endpoint's host), with keep-alive connections. It fails closed: a failed call (no
    /// connection, timeout, an error status, an answer that is not a valid decision, a failed TLS
    /// handshake, a certificate that is not trusted or not for the host) is a deny with code <see cref="DecisionCode.Unavailable"/>
    /// and a reason, or, with <see cref="RemoteOptions.Fallback"/>, that engine's decision with
    /// <see cref="Decision.Fallback"/> set. Evaluate never throws for a failed call, and a
    /// decision is never retried (no action is counted twice, no grant consumed twice).
    /// Thread-safe.
    /// </summary>
    public sealed class RemoteEngine : IDisposable
    {
        private const int MaxAnswerBytes = 16 << 20;
        private readonly RemoteTarget target;
        private readonly string describe;
        private readonly RemoteOptions options;
        private readonly ConcurrentBag<RemoteConnection> pool = new ConcurrentBag<RemoteConnection>();
        private readonly object breakerLock = new object();
        private int failures;
        private DateTime openUntil;
        private string lastError = "";
        private int probing;
        private bool disposed;

        /// <summary>
        /// A client of the server at <c>unix:PATH</c>, <c>tcp:IP:PORT</c> / <c>http://IP:PORT</c>, or
        /// <c>https://HOST:PORT</c> (HOST an IP address or a DNS name, which the server's
        /// certificate must name). Nothing connects until the first call.
        /// </summary>
        /// <exception cref="InvalidArgumentException">The endpoint or an option is malformed, or <see cref="RemoteOptions.CaFile"/> cannot be read.</exception>
        public RemoteEngine(string endpoint, RemoteOptions options = null)
        {
            if (endpoint == null) throw new ArgumentNullException(nameof(endpoint));
            this.options = options ?? new RemoteOptions();
            if (this.options.Timeout <= TimeSpan.Zero) throw new InvalidArgumentException("Timeout must be positive");
            if (this.options.BreakerFailures < 0) throw new InvalidArgumentException("BreakerFailures must be 0 or more");
            target = RemoteTarget.Parse(endpoint, this.options);
            describe = endpoint;
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
            RemoteConnection c;
            while (pool.TryTake(out c)) c.Dispose();
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
        private RemoteConnection Checkout(DateTime deadline)
        {
            RemoteConnection c;
            while (pool.TryTake(out c))
            {
                if (c.IdleAndOpen) return c;
                c.Dispose();
            }
            return RemoteConnection.Open(target, deadline);
        }

        /// <summary>One HTTP/1.1 round trip, sent once.</summary>
        private Answer RoundTrip(string method, string path, string body)
        {
            var deadline = DateTime.UtcNow + options.Timeout;
            var c = Checkout(deadline);
            bool keep = false;
            try
            {
                byte[] payload = body == null ? new byte[0] : new UTF8Encoding(false, true).GetBytes(body);
                var head = new StringBuilder();
                head.Append(method).Append(' ').Append(path).Append(" HTTP/1.1\r\nHost: portcullis\r\nContent-Type: application/json\r\n");
                if (options.Token != null && !target.Unix) head.Append("Authorization: Bearer ").Append(options.Token).Append("\r\n");
                head.Append("Content-Length: ").Append(payload.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n\r\n");
                byte[] headBytes = Encoding.ASCII.GetBytes(head.ToString());
                var request = new byte[headBytes.Length + payload.Length];
                Buffer.BlockCopy(headBytes, 0, request, 0, headBytes.Length);
                Buffer.BlockCopy(payload, 0, request, headBytes.Length, payload.Length);
                c.Send(request, deadline);
                return Read(c, deadline, out keep);
            }
            catch (SocketException e)
            {
                throw Transport(e);
            }
            catch (IOException e)
            {
                throw Transport(e.InnerException as SocketException ?? (Exception)e);
            }
            catch (ObjectDisposedException e)
            {
                throw target.Broken(e.Message);
            }
            catch (DecoderFallbackException)
            {
                throw new RemoteFailure("the answer of " + describe + " is not UTF-8");
            }
            finally
            {
                if (keep && !disposed) pool.Add(c);
                else c.Dispose();
            }
        }

        private RemoteFailure Transport(Exception e)
        {
            var socket = e as SocketException;
            if (socket != null && (socket.SocketErrorCode == SocketError.TimedOut || socket.SocketErrorCode == SocketError.WouldBlock))
            {
                return target.TimedOut();
            }
            return target.Broken(e.Message);
        }

        private Answer Read(RemoteConnection c, DateTime deadline, out bool keep)
        {
            var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int headEnd = -1;
            int length = -1;
            int status = 0;
            bool keepAlive = false;
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
                        keepAlive = head.IndexOf("\r\nconnection: close", StringComparison.Ordinal) < 0;
                        headEnd += 4;
                    }
                    else if (buffer.Length > 64 * 1024)
                    {
                        throw new RemoteFailure("the answer's headers from " + describe + " are too large");
                    }
                }
                if (headEnd >= 0 && buffer.Length >= headEnd + length)
                {
                    string body = new UTF8Encoding(false, true).GetString(buffer.GetBuffer(), headEnd, length);
                    // Kept only when the whole answer, and nothing more, was read.
                    keep = keepAlive && buffer.Length == headEnd + length;
                    return new Answer { Status = status, Body = body };
                }
                int n = c.Receive(chunk, deadline);
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
