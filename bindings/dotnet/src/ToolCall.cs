using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Portcullis
{
    /// <summary>What kind of action a <see cref="ToolCall"/> describes.</summary>
    public enum ActionKind
    {
        /// <summary>A tool invocation (the default).</summary>
        ToolCall,
        /// <summary>A message from one agent to another (<see cref="ToolCall.Target"/> is the receiver).</summary>
        Message,
        /// <summary>An access to a resource.</summary>
        Resource,
    }

    /// <summary>
    /// An action as .NET values: the tool, the agent and the call's arguments, with an
    /// optional kind, target, context and timestamp. <see cref="Engine.Evaluate(ToolCall)"/>
    /// sends it to the engine as the policy language's action object.
    /// </summary>
    /// <remarks>
    /// Argument and context values may be null, strings, booleans, any integer or
    /// floating-point type, decimals, enums (by name), <see cref="Guid"/>,
    /// <see cref="DateTime"/>, <see cref="DateTimeOffset"/>, <see cref="Uri"/>, string-keyed
    /// dictionaries, sequences, and <c>System.Text.Json.JsonElement</c>. A value with no JSON
    /// form (NaN, an infinity, an unknown type, nesting deeper than 64 levels) makes the
    /// action invalid: it is denied with code <see cref="DecisionCode.InvalidAction"/> and a
    /// reason that names the value. Numbers are compared as doubles by the engine: integers
    /// beyond ±2^53 lose precision there.
    /// </remarks>
    public sealed class ToolCall
    {
        /// <summary>The deepest nesting an action may have (the action object is level 1).</summary>
        internal const int MaxDepth = 64;

        /// <summary>The engine's action size limit (1 MiB); a longer encoding is denied before it is built.</summary>
        internal const int MaxActionBytes = 1 << 20;

        /// <summary>Creates a tool call.</summary>
        /// <param name="tool">The tool (message channel, resource) name, e.g. <c>database.write</c>.</param>
        /// <param name="agentId">The acting agent's id.</param>
        /// <param name="arguments">The call's arguments (the action's <c>params</c>); null for none.</param>
        public ToolCall(string tool, string agentId, IDictionary<string, object> arguments = null)
        {
            Tool = tool;
            AgentId = agentId;
            Arguments = arguments;
        }

        /// <summary>The tool, message channel or resource name. Required: a call without one is denied as invalid.</summary>
        public string Tool { get; set; }

        /// <summary>The acting agent's id. Required: a call without one is denied as invalid.</summary>
        public string AgentId { get; set; }

        /// <summary>The call's arguments (the action's <c>params</c>); null means none.</summary>
        public IDictionary<string, object> Arguments { get; set; }

        /// <summary>The kind of action; null means <see cref="ActionKind.ToolCall"/>.</summary>
        public ActionKind? Kind { get; set; }

        /// <summary>For a message: the receiving agent's id. Null for none.</summary>
        public string Target { get; set; }

        /// <summary>Host metadata (session, user, tenant, environment); null for none.</summary>
        public IDictionary<string, object> Context { get; set; }

        /// <summary>When the call was made: recorded for audit, never used for decisions. Null for none.</summary>
        public DateTimeOffset? Timestamp { get; set; }

        /// <summary>The action as compact JSON text, as the engine receives it.</summary>
        /// <exception cref="InvalidActionException">A value has no JSON form (the message names it).</exception>
        public string ToJson()
        {
            string json, problem;
            if (!TryToJson(out json, out problem)) throw new InvalidActionException(problem);
            return json;
        }

        /// <summary>A builder kept per thread, so that writing an action allocates only its text.</summary>
        [ThreadStatic]
        private static StringBuilder spareBuilder;

        /// <summary>Per-thread buffers for <see cref="TryToUtf8"/>.</summary>
        [ThreadStatic]
        private static char[] spareChars;

        [ThreadStatic]
        private static byte[] spareBytes;

        /// <summary>
        /// Writes the action JSON as UTF-8 into a per-thread buffer (valid until the thread's next
        /// call), with one spare byte after the text, or says which value has no JSON form.
        /// </summary>
        internal bool TryToUtf8(out byte[] buffer, out int length, out string problem)
        {
            buffer = null;
            length = 0;
            StringBuilder output = spareBuilder ?? new StringBuilder(256);
            spareBuilder = null;
            try
            {
                if (!TryWrite(output, out problem)) return false;
                char[] chars = spareChars;
                if (chars == null || chars.Length < output.Length) chars = new char[Math.Max(256, output.Length)];
                output.CopyTo(0, chars, 0, output.Length);
                // The writer escapes lone surrogates, so the text always has a UTF-8 form.
                int needed = Utf8.ByteCount(chars, output.Length);
                byte[] bytes = spareBytes;
                if (bytes == null || bytes.Length < needed + 1) bytes = new byte[Math.Max(512, needed + 1)];
                length = Utf8.Encode(chars, output.Length, bytes);
                buffer = bytes;
                if (chars.Length <= 16 * 1024) spareChars = chars;
                if (bytes.Length <= 64 * 1024) spareBytes = bytes;
                return true;
            }
            finally
            {
                if (output.Capacity <= 16 * 1024) spareBuilder = output;
            }
        }

        /// <summary>Writes the action JSON, or says which value has no JSON form.</summary>
        internal bool TryToJson(out string json, out string problem)
        {
            StringBuilder output = spareBuilder ?? new StringBuilder(256);
            spareBuilder = null;
            try
            {
                json = TryWrite(output, out problem) ? output.ToString() : null;
                return json != null;
            }
            finally
            {
                if (output.Capacity <= 16 * 1024) spareBuilder = output;
            }
        }

        /// <summary>Writes the action JSON into <paramref name="output"/> (cleared first), or says which value has no JSON form.</summary>
        private bool TryWrite(StringBuilder output, out string problem)
        {
            output.Clear();
            try
            {
                WriteAction(output);
                problem = null;
                return true;
            }
            catch (UnrepresentableValueException e)
            {
                problem = e.Path + " cannot be sent to the engine: " + e.Problem;
                return false;
            }
            catch (Exception e) when (!(e is OutOfMemoryException) && !(e is StackOverflowException))
            {
                // An argument's enumerator, getter or ToString threw: the call is denied, never thrown.
                problem = "an argument could not be read: " + e.GetType().FullName + ": " + e.Message;
                return false;
            }
        }

        /// <summary>
        /// The action object, members in this order: kind, tool, agent, target, params, context,
        /// timestamp. A null tool or agent id is left out: the engine then denies the action and
        /// says which field is missing.
        /// </summary>
        private void WriteAction(StringBuilder output)
        {
            var writer = JsonWriter.Appending(output, MaxDepth, MaxActionBytes);
            output.Append('{');
            if (Kind.HasValue)
            {
                output.Append("\"kind\":");
                JsonWriter.WriteString(output, KindName(Kind.Value));
                output.Append(',');
            }
            if (Tool != null)
            {
                output.Append("\"tool\":");
                JsonWriter.WriteString(output, Tool);
                output.Append(',');
            }
            output.Append("\"agent\":{");
            if (AgentId != null)
            {
                output.Append("\"id\":");
                JsonWriter.WriteString(output, AgentId);
            }
            output.Append('}');
            if (Target != null)
            {
                output.Append(",\"target\":");
                JsonWriter.WriteString(output, Target);
            }
            if (Arguments != null)
            {
                output.Append(",\"params\":");
                writer.WriteMember("params", Arguments, 2);
            }
            if (Context != null)
            {
                output.Append(",\"context\":");
                writer.WriteMember("context", Context, 2);
            }
            if (Timestamp.HasValue)
            {
                output.Append(",\"timestamp\":");
                JsonWriter.WriteString(output, Timestamp.Value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            }
            output.Append('}');
        }

        private static string KindName(ActionKind kind)
        {
            switch (kind)
            {
                case ActionKind.Message: return "message";
                case ActionKind.Resource: return "resource";
                case ActionKind.ToolCall: return "tool_call";
                // An undefined enum value is sent as its number, which the engine rejects.
                default: return ((int)kind).ToString(CultureInfo.InvariantCulture);
            }
        }
    }
}
