using System;

namespace Portcullis
{
    /// <summary>Options of a <see cref="RemoteEngine"/>.</summary>
    public sealed class RemoteOptions
    {
        /// <summary>Time allowed for one call: connecting, the TLS handshake, sending and reading the whole answer (default 250 ms).</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(250);

        /// <summary>Sent as <c>Authorization: Bearer</c> over TCP and HTTPS (never over a Unix socket).</summary>
        public string Token { get; set; }

        /// <summary>
        /// A PEM file of the certificate authorities trusted for an <c>https://</c> endpoint,
        /// instead of the system's: the server's certificate must chain to one of them. Without
        /// it the system's trusted roots are used. Read when the remote engine is created.
        /// </summary>
        public string CaFile { get; set; }

        /// <summary>
        /// An in-process engine that decides when the remote engine is unavailable; its decisions
        /// have <see cref="Decision.Fallback"/> set. The remote engine does not dispose it.
        /// </summary>
        public Engine Fallback { get; set; }

        /// <summary>Consecutive failures (transport and TLS errors, timeouts, 5xx) that open the circuit breaker (default 5; 0 never opens it).</summary>
        public int BreakerFailures { get; set; } = 5;

        /// <summary>How long an open breaker fails calls at once before one call probes <c>GET /readyz</c> (default 500 ms).</summary>
        public TimeSpan BreakerCooldown { get; set; } = TimeSpan.FromMilliseconds(500);
    }
}
