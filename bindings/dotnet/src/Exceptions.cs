using System;

namespace Portcullis
{
    /// <summary>The base of every error portcullis reports.</summary>
    /// <remarks>
    /// Evaluation does not throw for bad action content: a malformed action is a
    /// <see cref="Decision"/> with effect <see cref="Effect.Deny"/> and code
    /// <see cref="DecisionCode.InvalidAction"/>. This exception (not a subclass) is thrown only
    /// when the native engine itself failed during a call.
    /// </remarks>
    public class PortcullisException : Exception
    {
        /// <summary>Creates the exception with a message.</summary>
        public PortcullisException(string message) : base(message)
        {
        }

        /// <summary>Creates the exception with a message and the error that caused it.</summary>
        public PortcullisException(string message, Exception inner) : base(message, inner)
        {
        }
    }

    /// <summary>A policy document could not be loaded; <see cref="Path"/> says where.</summary>
    /// <remarks>An engine whose <see cref="Engine.UpdatePolicy"/> failed keeps its current policy.</remarks>
    public class PolicyException : PortcullisException
    {
        /// <summary>Creates the exception for the error at <paramref name="path"/>.</summary>
        public PolicyException(string path, string detail)
            : base(path.Length == 0 ? detail : path + ": " + detail)
        {
            Path = path;
            Detail = detail;
        }

        /// <summary>
        /// Where the error is in the document, in dotted form with bracketed indexes
        /// (<c>rules[0].when.all[1].matches</c>); "" for the document root.
        /// </summary>
        public string Path { get; }

        /// <summary>What is wrong, quoting the offending key or value (the message without the path).</summary>
        public string Detail { get; }
    }

    /// <summary>An argument is out of range or malformed: a TTL under one millisecond, uses under 1, a malformed action hash.</summary>
    public class InvalidArgumentException : PortcullisException
    {
        /// <summary>Creates the exception with a message.</summary>
        public InvalidArgumentException(string message) : base(message)
        {
        }
    }

    /// <summary>The action given to <see cref="Engine.Approve(string, TimeSpan, int)"/> is not a valid action.</summary>
    public class InvalidActionException : PortcullisException
    {
        /// <summary>Creates the exception with a message.</summary>
        public InvalidActionException(string message) : base(message)
        {
        }
    }

    /// <summary><see cref="Engine.SetTime"/> was called on an engine that reads the system clock.</summary>
    public class ClockException : PortcullisException
    {
        /// <summary>Creates the exception with a message.</summary>
        public ClockException(string message) : base(message)
        {
        }
    }

    /// <summary>
    /// The audit trail cannot be opened (<see cref="Engine.FromPolicy"/> with <see cref="EngineOptions.Audit"/>)
    /// or written (<see cref="Engine.FlushAudit"/>); the message names the file and the system's error.
    /// </summary>
    public class AuditException : PortcullisException
    {
        /// <summary>Creates the exception with a message.</summary>
        public AuditException(string message) : base(message)
        {
        }
    }

    /// <summary>
    /// Something the call needed did not answer in time: the shared state of an engine with
    /// <see cref="EngineOptions.StateUrl"/> when approving (nothing was granted; retry once the
    /// store is back), or the server of a <see cref="RemoteEngine"/>.
    /// </summary>
    /// <remarks>Evaluation does not throw it: a decision that needs what is unavailable is a deny with code <see cref="DecisionCode.Unavailable"/>.</remarks>
    public class UnavailableException : PortcullisException
    {
        /// <summary>Creates the exception with a message.</summary>
        public UnavailableException(string message) : base(message)
        {
        }
    }

    /// <summary>The native library could not be loaded, or its ABI version does not match this assembly.</summary>
    public class NativeLibraryException : PortcullisException
    {
        /// <summary>Creates the exception with a message.</summary>
        public NativeLibraryException(string message) : base(message)
        {
        }

        /// <summary>Creates the exception with a message and the error that caused it.</summary>
        public NativeLibraryException(string message, Exception inner) : base(message, inner)
        {
        }
    }
}
