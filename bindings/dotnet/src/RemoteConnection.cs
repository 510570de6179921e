using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Portcullis
{
    /// <summary>A call that failed before an answer arrived; its message is the reason of the <c>unavailable</c> decision.</summary>
    internal sealed class RemoteFailure : Exception
    {
        internal RemoteFailure(string message) : base(message)
        {
        }
    }

    /// <summary>Where a <see cref="RemoteEngine"/>'s server is: a Unix socket, a TCP address, or an HTTPS host.</summary>
    internal sealed class RemoteTarget
    {
        internal readonly string Describe;
        internal readonly bool Unix;
        /// <summary>The address to connect to; null when <see cref="Host"/> is a name to resolve.</summary>
        internal readonly EndPoint EndPoint;
        internal readonly string Host;
        internal readonly int Port;
        /// <summary>Null for plain HTTP.</summary>
        internal readonly RemoteTls Tls;
        private readonly string timeoutMs;

        private RemoteTarget(string describe, bool unix, EndPoint endPoint, string host, int port, RemoteTls tls, TimeSpan timeout)
        {
            Describe = describe;
            Unix = unix;
            EndPoint = endPoint;
            Host = host;
            Port = port;
            Tls = tls;
            timeoutMs = ((long)timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        }

        /// <summary>
        /// <c>unix:PATH</c>, <c>tcp:IP:PORT</c>, <c>http://IP:PORT</c>, or <c>https://HOST:PORT</c>
        /// where HOST is an IP address or a DNS name (the name the certificate must carry).
        /// </summary>
        internal static RemoteTarget Parse(string endpoint, RemoteOptions options)
        {
            if (endpoint.StartsWith("unix:", StringComparison.Ordinal))
            {
                string path = endpoint.Substring(5);
                if (path.Length == 0) throw new InvalidArgumentException(endpoint + ": the socket path is empty");
                return new RemoteTarget(endpoint, true, new UnixSocketEndPoint(path), null, 0, null, options.Timeout);
            }
            bool secure = endpoint.StartsWith("https://", StringComparison.Ordinal);
            string hostPort = endpoint.StartsWith("tcp:", StringComparison.Ordinal) ? endpoint.Substring(4)
                : endpoint.StartsWith("http://", StringComparison.Ordinal) ? endpoint.Substring(7).TrimEnd('/')
                : secure ? endpoint.Substring(8).TrimEnd('/')
                : null;
            int colon = hostPort == null ? -1 : hostPort.LastIndexOf(':');
            string host = colon <= 0 ? null : hostPort.Substring(0, colon);
            IPAddress ip = null;
            int port;
            bool hostOk = host != null && (host.StartsWith("[", StringComparison.Ordinal)
                ? host.EndsWith("]", StringComparison.Ordinal) && IPAddress.TryParse(host.Substring(1, host.Length - 2), out ip) && ip.AddressFamily == AddressFamily.InterNetworkV6
                : IPAddress.TryParse(host, out ip) || (secure && IsDnsName(host)));
            if (!hostOk || !int.TryParse(hostPort.Substring(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) ||
                port < 1 || port > 65535)
            {
                throw new InvalidArgumentException(endpoint + ": expected unix:PATH, tcp:IP:PORT, http://IP:PORT or https://HOST:PORT");
            }
            if (!secure && options.CaFile != null) throw new InvalidArgumentException("CaFile is for https:// endpoints only, not " + endpoint);
            RemoteTls tls = secure ? new RemoteTls(options.CaFile) : null;
            string name = ip == null ? host.ToLowerInvariant() : ip.ToString();
            return new RemoteTarget(endpoint, false, ip == null ? null : new IPEndPoint(ip, port), name, port, tls, options.Timeout);
        }

        /// <summary>Letters, digits, '-' and '.', in labels of 1 to 63 characters.</summary>
        private static bool IsDnsName(string host)
        {
            if (host.Length == 0 || host.Length > 253) return false;
            foreach (string label in host.Split('.'))
            {
                if (label.Length == 0 || label.Length > 63 || label[0] == '-' || label[label.Length - 1] == '-') return false;
                foreach (char c in label)
                {
                    if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') && c != '-') return false;
                }
            }
            return true;
        }

        internal RemoteFailure TimedOut()
        {
            return new RemoteFailure("the remote engine at " + Describe + " did not answer within " + timeoutMs + " ms");
        }

        internal RemoteFailure Broken(string what)
        {
            return new RemoteFailure("the remote engine at " + Describe + " failed: " + what);
        }

        /// <summary>Milliseconds left until the deadline (at least 1, so that a wait never blocks forever).</summary>
        internal static int Remaining(DateTime deadline)
        {
            double ms = (deadline - DateTime.UtcNow).TotalMilliseconds;
            return ms < 1 ? 1 : ms > int.MaxValue ? int.MaxValue : (int)ms;
        }
    }

    /// <summary>
    /// One connection to the server: a socket, and over it a TLS stream for an <c>https://</c>
    /// target. Every operation ends by the deadline of its call; a connection that timed out is
    /// disposed, never reused.
    /// </summary>
    internal sealed class RemoteConnection : IDisposable
    {
        private readonly Socket socket;
        private readonly SslStream tls;
        private readonly RemoteTarget target;

        private RemoteConnection(Socket socket, SslStream tls, RemoteTarget target)
        {
            this.socket = socket;
            this.tls = tls;
            this.target = target;
        }

        /// <summary>Connects (and for HTTPS makes the TLS handshake) by the deadline.</summary>
        internal static RemoteConnection Open(RemoteTarget target, DateTime deadline)
        {
            Socket s = Connect(target, deadline);
            if (target.Tls == null) return new RemoteConnection(s, null, target);
            try
            {
                return new RemoteConnection(s, target.Tls.Handshake(s, target, deadline), target);
            }
            catch
            {
                s.Dispose();
                throw;
            }
        }

        /// <summary>False when the server closed the idle connection (or sent something unasked): never reuse it.</summary>
        internal bool IdleAndOpen
        {
            get
            {
                try
                {
                    return !socket.Poll(0, SelectMode.SelectRead);
                }
                catch (SocketException)
                {
                    return false;
                }
                catch (ObjectDisposedException)
                {
                    return false;
                }
            }
        }

        internal void Send(byte[] data, DateTime deadline)
        {
            if (tls == null)
            {
                socket.SendTimeout = RemoteTarget.Remaining(deadline);
                socket.Send(data);
                return;
            }
            var write = tls.BeginWrite(data, 0, data.Length, null, null);
            if (!write.AsyncWaitHandle.WaitOne(RemoteTarget.Remaining(deadline))) throw Abandon();
            tls.EndWrite(write);
        }

        /// <summary>Reads what has arrived (waiting until the deadline); 0 when the server closed the connection.</summary>
        internal int Receive(byte[] buffer, DateTime deadline)
        {
            if (DateTime.UtcNow >= deadline) throw target.TimedOut();
            if (tls == null)
            {
                socket.ReceiveTimeout = RemoteTarget.Remaining(deadline);
                return socket.Receive(buffer);
            }
            var read = tls.BeginRead(buffer, 0, buffer.Length, null, null);
            if (!read.AsyncWaitHandle.WaitOne(RemoteTarget.Remaining(deadline))) throw Abandon();
            return tls.EndRead(read);
        }

        /// <summary>Closes the connection under a pending TLS operation and says the call timed out.</summary>
        private RemoteFailure Abandon()
        {
            Dispose();
            return target.TimedOut();
        }

        public void Dispose()
        {
            if (tls != null) tls.Dispose();
            socket.Dispose();
        }

        private static Socket Connect(RemoteTarget target, DateTime deadline)
        {
            string last = null;
            foreach (var address in Addresses(target, deadline))
            {
                var s = target.Unix ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                    : new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    var connect = s.BeginConnect(address, null, null);
                    if (!connect.AsyncWaitHandle.WaitOne(RemoteTarget.Remaining(deadline))) throw target.TimedOut();
                    s.EndConnect(connect);
                    return s;
                }
                catch (SocketException e)
                {
                    s.Dispose();
                    last = e.Message;
                }
                catch (RemoteFailure)
                {
                    s.Dispose();
                    throw;
                }
            }
            throw new RemoteFailure("cannot connect to " + target.Describe + ": " + last);
        }

        /// <summary>The target's address, or the addresses its host name resolves to (by the deadline).</summary>
        private static IEnumerable<EndPoint> Addresses(RemoteTarget target, DateTime deadline)
        {
            if (target.EndPoint != null) return new[] { target.EndPoint };
            IPAddress[] found;
            try
            {
                var lookup = Dns.BeginGetHostAddresses(target.Host, null, null);
                if (!lookup.AsyncWaitHandle.WaitOne(RemoteTarget.Remaining(deadline))) throw target.TimedOut();
                found = Dns.EndGetHostAddresses(lookup);
            }
            catch (SocketException e)
            {
                throw new RemoteFailure("cannot resolve " + target.Host + " for " + target.Describe + ": " + e.Message);
            }
            var addresses = new List<EndPoint>();
            foreach (var ip in found)
            {
                if (ip.AddressFamily == AddressFamily.InterNetwork || ip.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    addresses.Add(new IPEndPoint(ip, target.Port));
                }
            }
            if (addresses.Count == 0) throw new RemoteFailure("cannot resolve " + target.Host + " for " + target.Describe + ": no address");
            return addresses;
        }
    }
}
