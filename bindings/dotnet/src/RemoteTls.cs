using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq.Expressions;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Portcullis
{
    /// <summary>
    /// TLS for an <c>https://</c> target: TLS 1.2 or later, the server's certificate chained to the
    /// certificate authorities of <see cref="RemoteOptions.CaFile"/> (only those) or to the
    /// system's roots, within its validity period, and naming the target host in its
    /// subjectAltName (a DNS name, or an IP address for an IP target). Anything else fails the
    /// handshake, before the request (and its token) is sent.
    /// </summary>
    internal sealed class RemoteTls
    {
        private const string SubjectAltName = "2.5.29.17";
        private static readonly bool OnMono = Type.GetType("Mono.Runtime") != null;
        // TLS 1.3 has no name in netstandard2.0; Mono's TLS (BoringSSL through btls) stops at 1.2.
        private static readonly SslProtocols Protocols = OnMono ? SslProtocols.Tls12 : SslProtocols.Tls12 | (SslProtocols)12288;
        /// <summary>
        /// False makes Mono check a CA file's chain with X509Chain as other runtimes do (the unit
        /// tests, with RSA certificates: Mono's X509Chain cannot check ECDSA signatures).
        /// </summary>
        internal static bool UseMonoTrust = true;
        private readonly X509Certificate2[] authorities;
        private readonly string caFile;
        private readonly MonoTrust mono;

        /// <summary>Reads the CA file now, so that a missing or empty file is an error of the constructor.</summary>
        internal RemoteTls(string caFile)
        {
            this.caFile = caFile;
            if (caFile == null) return;
            authorities = ReadCertificates(caFile);
            // Mono's own chain building cannot check ECDSA signatures; its TLS library can, given the CAs.
            if (OnMono && UseMonoTrust) mono = new MonoTrust(authorities, caFile);
        }

        private static X509Certificate2[] ReadCertificates(string path)
        {
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is ArgumentException || e is NotSupportedException)
            {
                throw new InvalidArgumentException("CaFile " + path + ": " + e.Message);
            }
            const string begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----";
            var found = new List<X509Certificate2>();
            int at = text.IndexOf(begin, StringComparison.Ordinal);
            while (at >= 0)
            {
                int stop = text.IndexOf(end, at, StringComparison.Ordinal);
                if (stop < 0) throw new InvalidArgumentException("CaFile " + path + ": a certificate has no END line");
                try
                {
                    found.Add(new X509Certificate2(Convert.FromBase64String(text.Substring(at + begin.Length, stop - at - begin.Length))));
                }
                catch (Exception e) when (e is FormatException || e is CryptographicException)
                {
                    throw new InvalidArgumentException("CaFile " + path + ": certificate " + (found.Count + 1) + " is malformed: " + e.Message);
                }
                at = text.IndexOf(begin, stop, StringComparison.Ordinal);
            }
            if (found.Count == 0) throw new InvalidArgumentException("CaFile " + path + ": no PEM certificate (-----BEGIN CERTIFICATE-----)");
            return found.ToArray();
        }

        /// <summary>The TLS handshake over a connected socket, by the deadline.</summary>
        internal SslStream Handshake(Socket socket, RemoteTarget target, DateTime deadline)
        {
            var inner = new NetworkStream(socket, false);
            string rejected = null;
            Func<X509Certificate, X509Chain, SslPolicyErrors, bool> check = (certificate, chain, errors) =>
            {
                try
                {
                    rejected = Check(certificate, chain, errors, target.Host);
                }
                catch (CryptographicException e)
                {
                    rejected = "the server's certificate cannot be read: " + e.Message;
                }
                return rejected == null;
            };
            SslStream ssl = mono != null ? mono.Stream(inner, check)
                : new SslStream(inner, false, (sender, certificate, chain, errors) => check(certificate, chain, errors));
            string failure;
            try
            {
                var handshake = ssl.BeginAuthenticateAsClient(target.Host, null, Protocols, false, null, null);
                if (!handshake.AsyncWaitHandle.WaitOne(RemoteTarget.Remaining(deadline)))
                {
                    ssl.Dispose();
                    throw target.TimedOut();
                }
                ssl.EndAuthenticateAsClient(handshake);
                failure = CheckName(ssl.RemoteCertificate, target.Host);
            }
            catch (AuthenticationException e)
            {
                failure = rejected ?? "the server's certificate was rejected (" + Innermost(e) + ")";
            }
            catch (Exception e) when (e is IOException || e is SocketException || e is ObjectDisposedException || e is CryptographicException)
            {
                failure = rejected ?? Innermost(e);
            }
            if (failure == null) return ssl;
            ssl.Dispose();
            throw new RemoteFailure("TLS handshake with " + target.Describe + " failed: " + failure);
        }

        private string Trusted()
        {
            return caFile == null ? "a CA the system trusts" : "a CA of CaFile " + caFile;
        }

        private static string Innermost(Exception e)
        {
            while (e.InnerException != null) e = e.InnerException;
            return e.Message.Split('\n')[0].Trim();
        }

        /// <summary>
        /// Why the certificate is refused, or null to accept it: the platform's verdict, except
        /// outside Mono with a CA file, where the chain must end at one of the file's CAs.
        /// </summary>
        private string Check(X509Certificate certificate, X509Chain chain, SslPolicyErrors errors, string host)
        {
            if (certificate == null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0) return "the server sent no certificate";
            if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            {
                return CheckName(certificate, host) ?? "the server's certificate is not issued for " + host;
            }
            // The platform checked the chain against the right roots (the system's, or on Mono the CA file's).
            if (authorities == null || mono != null)
            {
                return (errors & SslPolicyErrors.RemoteCertificateChainErrors) == 0 ? null : Diagnose(certificate, chain, host);
            }
            using (var own = new X509Chain())
            {
                own.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                own.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority;
                own.ChainPolicy.ExtraStore.AddRange(authorities);
                if (chain != null)
                {
                    foreach (var element in chain.ChainElements) own.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
                own.Build(new X509Certificate2(certificate));
                var elements = own.ChainElements;
                var root = elements.Count == 0 ? null : elements[elements.Count - 1].Certificate;
                if (root == null || Array.FindIndex(authorities, a => SameBytes(a.RawData, root.RawData)) < 0)
                {
                    return "the server's certificate is not signed by " + Trusted();
                }
                foreach (var status in own.ChainStatus)
                {
                    if (status.Status != X509ChainStatusFlags.NoError && status.Status != X509ChainStatusFlags.UntrustedRoot)
                    {
                        string info = status.StatusInformation.Trim();
                        return Validity(new X509Certificate2(certificate)) ?? "the server's certificate is not valid: " + status.Status +
                               (info.Length == 0 || info == status.Status.ToString() ? "" : " (" + info + ")");
                    }
                }
            }
            return null;
        }

        /// <summary>
        /// Why the platform refused the certificate, for the reason (the platform decided): its
        /// validity period, its names, or else its issuer.
        /// </summary>
        private string Diagnose(X509Certificate certificate, X509Chain chain, string host)
        {
            var c = new X509Certificate2(certificate);
            string name = Validity(c) ?? CheckName(certificate, host);
            if (name != null) return name;
            IPAddress ip;
            if (OnMono && IPAddress.TryParse(host, out ip) && c.GetNameInfo(X509NameType.SimpleName, false) != host)
            {
                return "Mono's TLS matches an IP host against the certificate's common name, which is not " + host;
            }
            var statuses = new StringBuilder();
            if (chain != null)
            {
                foreach (var status in chain.ChainStatus) statuses.Append(statuses.Length == 0 ? " (" : ", ").Append(status.Status);
            }
            return "the server's certificate is not signed by " + Trusted() + (statuses.Length == 0 ? "" : statuses.Append(')').ToString());
        }

        private static string Validity(X509Certificate2 c)
        {
            DateTime now = DateTime.Now;
            if (now >= c.NotBefore && now <= c.NotAfter) return null;
            return "the server's certificate is outside its validity period (" + c.NotBefore.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture) +
                   " to " + c.NotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture) + ")";
        }

        private static bool SameBytes(byte[] a, byte[] b)
        {
            if (a.Length != b.Length) return false;
            for (int i = 0; i < a.Length; i++)
            {
                if (a[i] != b[i]) return false;
            }
            return true;
        }

        /// <summary>
        /// Null when the certificate's subjectAltName names <paramref name="host"/> (an IP
        /// address entry for an IP, a DNS entry, possibly with a wildcard first label, for a name),
        /// else why not. The subject's common name is never used.
        /// </summary>
        internal static string CheckName(X509Certificate certificate, string host)
        {
            if (certificate == null) return "the server sent no certificate";
            var names = new List<string>();
            X509Extension san = null;
            foreach (var extension in new X509Certificate2(certificate).Extensions)
            {
                if (extension.Oid.Value == SubjectAltName) san = extension;
            }
            if (san == null) return "the server's certificate has no subjectAltName (a certificate must name its host there)";
            IPAddress ip;
            bool isIp = IPAddress.TryParse(host, out ip);
            byte[] der = san.RawData;
            int at = 0;
            int end;
            if (!Header(der, ref at, out end, 0x30) || end != der.Length) return "the server's certificate has a malformed subjectAltName";
            while (at < end)
            {
                int tag = der[at];
                int valueEnd;
                if (!Header(der, ref at, out valueEnd, tag)) return "the server's certificate has a malformed subjectAltName";
                var value = new byte[valueEnd - at];
                Array.Copy(der, at, value, 0, value.Length);
                at = valueEnd;
                if (tag == 0x87)
                {
                    var address = value.Length == 4 || value.Length == 16 ? new IPAddress(value) : null;
                    if (isIp && address != null && address.Equals(ip)) return null;
                    names.Add(address == null ? "IP ?" : "IP " + address);
                }
                else if (tag == 0x82)
                {
                    string dns = Encoding.ASCII.GetString(value).ToLowerInvariant();
                    if (!isIp && DnsMatches(dns, host)) return null;
                    names.Add(dns);
                }
            }
            return "the server's certificate is not issued for " + host + " (it names " + (names.Count == 0 ? "no host" : string.Join(", ", names)) + ")";
        }

        /// <summary>A wildcard stands for exactly one whole first label: <c>*.example.com</c> matches <c>a.example.com</c> only.</summary>
        internal static bool DnsMatches(string pattern, string host)
        {
            pattern = pattern.TrimEnd('.');
            if (!pattern.StartsWith("*.", StringComparison.Ordinal)) return pattern == host;
            int dot = host.IndexOf('.');
            return dot > 0 && pattern.IndexOf('*', 1) < 0 && pattern.Substring(1) == host.Substring(dot);
        }

        /// <summary>Reads a DER tag and length at <paramref name="at"/>; moves to the value and sets where it ends.</summary>
        private static bool Header(byte[] der, ref int at, out int end, int tag)
        {
            end = 0;
            if (at + 2 > der.Length || der[at] != tag) return false;
            int length = der[at + 1];
            at += 2;
            if (length >= 0x80)
            {
                int bytes = length & 0x7f;
                if (bytes == 0 || bytes > 3 || at + bytes > der.Length) return false;
                length = 0;
                for (int i = 0; i < bytes; i++) length = (length << 8) | der[at++];
            }
            end = at + length;
            return end <= der.Length;
        }

        /// <summary>
        /// Mono's TLS settings (Mono.Security, reached by reflection so that the library needs no
        /// Mono assembly elsewhere): the CA file's certificates as the only trust anchors.
        /// </summary>
        private sealed class MonoTrust
        {
            private const string MonoSecurity = ", Mono.Security, Version=4.0.0.0, Culture=neutral, PublicKeyToken=0738eb9f132ed756";
            private readonly X509Certificate2[] authorities;
            private readonly Type settingsType;
            private readonly PropertyInfo trustAnchors, searchPaths, streamOf;
            private readonly MethodInfo create;
            private readonly object provider;
            private readonly PropertyInfo callback;
            /// <summary>Wraps a check in Mono's own validation delegate type (its last parameter is a Mono enum).</summary>
            private readonly Func<Func<X509Certificate, X509Chain, SslPolicyErrors, bool>, Delegate> wrap;

            internal MonoTrust(X509Certificate2[] authorities, string caFile)
            {
                this.authorities = authorities;
                const BindingFlags instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
                try
                {
                    settingsType = Type.GetType("Mono.Security.Interface.MonoTlsSettings" + MonoSecurity, true);
                    var factory = Type.GetType("Mono.Security.Interface.MonoTlsProviderFactory" + MonoSecurity, true);
                    trustAnchors = settingsType.GetProperty("TrustAnchors", instance);
                    searchPaths = settingsType.GetProperty("CertificateSearchPaths", instance);
                    provider = factory.GetMethod("GetProvider", Type.EmptyTypes).Invoke(null, null);
                    create = provider.GetType().GetMethod("CreateSslStream", new[] { typeof(Stream), typeof(bool), settingsType });
                    streamOf = Type.GetType("Mono.Security.Interface.IMonoSslStream" + MonoSecurity, true).GetProperty("SslStream");
                    callback = settingsType.GetProperty("RemoteCertificateValidationCallback", instance);
                    wrap = Wrapper(callback.PropertyType);
                }
                catch (Exception e) when (e is TypeLoadException || e is FileNotFoundException || e is TargetInvocationException ||
                                          e is ArgumentException || e is InvalidOperationException || e is NullReferenceException)
                {
                    throw new InvalidArgumentException("CaFile " + caFile + ": this Mono runtime cannot take a CA for TLS: " + e.Message);
                }
                if (trustAnchors == null || searchPaths == null || searchPaths.GetSetMethod(true) == null || create == null || streamOf == null)
                {
                    throw new InvalidArgumentException("CaFile " + caFile + ": this Mono runtime cannot take a CA for TLS (no MonoTlsSettings.TrustAnchors)");
                }
            }

            /// <summary>(host, certificate, chain, errors) => check(certificate, chain, (SslPolicyErrors)errors), as a <paramref name="type"/>.</summary>
            private static Func<Func<X509Certificate, X509Chain, SslPolicyErrors, bool>, Delegate> Wrapper(Type type)
            {
                var check = Expression.Parameter(typeof(Func<X509Certificate, X509Chain, SslPolicyErrors, bool>), "check");
                var parameters = Array.ConvertAll(type.GetMethod("Invoke").GetParameters(), p => Expression.Parameter(p.ParameterType, p.Name));
                var body = Expression.Invoke(check, parameters[1], parameters[2],
                                             Expression.Convert(Expression.Convert(parameters[3], typeof(int)), typeof(SslPolicyErrors)));
                var lambda = Expression.Lambda(type, body, parameters);
                return Expression.Lambda<Func<Func<X509Certificate, X509Chain, SslPolicyErrors, bool>, Delegate>>(
                    Expression.Convert(lambda, typeof(Delegate)), check).Compile();
            }

            /// <summary>An SslStream that trusts only the CA file's certificates ("@trusted": no system roots).</summary>
            internal SslStream Stream(Stream inner, Func<X509Certificate, X509Chain, SslPolicyErrors, bool> check)
            {
                var settings = Activator.CreateInstance(settingsType);
                trustAnchors.SetValue(settings, new X509CertificateCollection(authorities));
                searchPaths.SetValue(settings, new[] { "@trusted" });
                callback.SetValue(settings, wrap(check));
                try
                {
                    var stream = create.Invoke(provider, new object[] { inner, false, settings });
                    return (SslStream)streamOf.GetValue(stream);
                }
                catch (TargetInvocationException e)
                {
                    throw new RemoteFailure("cannot start TLS on Mono: " + (e.InnerException ?? e).Message);
                }
            }
        }
    }
}
