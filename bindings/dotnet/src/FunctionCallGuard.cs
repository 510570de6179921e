using System;
using System.Collections.Generic;
using System.Globalization;

namespace Portcullis
{
    /// <summary>
    /// Guards an agent framework's function calls (Semantic Kernel, AutoGen, a hand-written
    /// loop): maps a call (plugin, function, arguments) to an action, decides it, and turns
    /// the decision into an outcome the framework can act on: run (with rewritten arguments,
    /// when the policy rewrote them) or do not run (with a message for the model).
    /// </summary>
    /// <remarks>
    /// The tool name is <c>plugin + "." + function</c> (just the function when there is no
    /// plugin), so a policy matches <c>"tool": ["email.*"]</c> for every function of the
    /// <c>email</c> plugin. Safe to use from many threads at once.
    /// <para>
    /// Prompt functions (Semantic Kernel's <c>InvokePromptAsync</c> and
    /// <c>CreateFunctionFromPrompt</c> without a name: no plugin, a generated name
    /// <c>func</c> + 32 hex digits) are evaluated like every other call, never skipped, but under
    /// the stable tool name <see cref="PromptFunctionToolName"/> (default <c>sk.prompt</c>), since a
    /// policy cannot name a random one. A default-deny policy therefore blocks them until a rule
    /// allows <c>sk.prompt</c>.
    /// </para>
    /// </remarks>
    public sealed class FunctionCallGuard
    {
        private readonly Engine engine;
        private readonly string agentId;

        /// <summary>Creates a guard that evaluates every call as made by <paramref name="agentId"/>.</summary>
        /// <exception cref="ArgumentNullException"><paramref name="engine"/> or <paramref name="agentId"/> is null.</exception>
        public FunctionCallGuard(Engine engine, string agentId)
        {
            if (engine == null) throw new ArgumentNullException(nameof(engine));
            if (agentId == null) throw new ArgumentNullException(nameof(agentId));
            this.engine = engine;
            this.agentId = agentId;
        }

        /// <summary>Host metadata sent as the action's <c>context</c> with every call (session, user, tenant); null for none.</summary>
        public IDictionary<string, object> Context { get; set; }

        /// <summary>The tool name every prompt function is evaluated under (see <see cref="IsPromptFunction"/>).</summary>
        public const string DefaultPromptFunctionToolName = "sk.prompt";

        /// <summary>
        /// The tool name prompt functions are evaluated under (default <c>sk.prompt</c>); null or
        /// empty evaluates them under their generated <c>func&lt;guid&gt;</c> name instead.
        /// </summary>
        public string PromptFunctionToolName { get; set; } = DefaultPromptFunctionToolName;

        /// <summary>
        /// True for a function Semantic Kernel generated from a prompt without a name: no plugin and
        /// a name of <c>func</c> followed by 32 hexadecimal digits (a GUID in <c>N</c> format).
        /// </summary>
        public static bool IsPromptFunction(string pluginName, string functionName)
        {
            if (!string.IsNullOrEmpty(pluginName) || functionName == null) return false;
            if (functionName.Length != 36 || !functionName.StartsWith("func", StringComparison.Ordinal)) return false;
            for (int i = 4; i < functionName.Length; i++)
            {
                char c = functionName[i];
                bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                if (!hex) return false;
            }
            return true;
        }

        /// <summary>The tool name of a function: <c>plugin.function</c>, or <c>function</c> when there is no plugin.</summary>
        /// <exception cref="ArgumentNullException"><paramref name="functionName"/> is null.</exception>
        public static string ToolName(string pluginName, string functionName)
        {
            if (functionName == null) throw new ArgumentNullException(nameof(functionName));
            return string.IsNullOrEmpty(pluginName) ? functionName : pluginName + "." + functionName;
        }

        /// <summary>
        /// The action for a function call: its tool name (<see cref="PromptFunctionToolName"/> for a
        /// prompt function), this guard's agent and context, and the arguments as params.
        /// </summary>
        /// <param name="pluginName">The plugin (may be null or empty).</param>
        /// <param name="functionName">The function.</param>
        /// <param name="arguments">The call's arguments; null for none.</param>
        public ToolCall ToToolCall(string pluginName, string functionName, IEnumerable<KeyValuePair<string, object>> arguments)
        {
            var parameters = new JsonObject();
            if (arguments != null)
            {
                foreach (var argument in arguments) parameters[argument.Key] = argument.Value;
            }
            string tool = IsPromptFunction(pluginName, functionName) && !string.IsNullOrEmpty(PromptFunctionToolName)
                ? PromptFunctionToolName
                : ToolName(pluginName, functionName);
            return new ToolCall(tool, agentId, parameters) { Context = Context };
        }

        /// <summary>Decides a function call.</summary>
        /// <param name="pluginName">The plugin (may be null or empty).</param>
        /// <param name="functionName">The function.</param>
        /// <param name="arguments">The call's arguments (e.g. Semantic Kernel's <c>KernelArguments</c>); null for none.</param>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        public GuardOutcome Check(string pluginName, string functionName, IEnumerable<KeyValuePair<string, object>> arguments)
        {
            return new GuardOutcome(engine.Evaluate(ToToolCall(pluginName, functionName, arguments)));
        }
    }

    /// <summary>What to do with a guarded function call.</summary>
    public sealed class GuardOutcome
    {
        internal GuardOutcome(Decision decision)
        {
            Decision = decision;
        }

        /// <summary>The engine's decision.</summary>
        public Decision Decision { get; }

        /// <summary>True when the function may run (after <see cref="ApplyArguments"/>); false when it must not.</summary>
        public bool Proceed => Decision.Allowed;

        /// <summary>True when the policy rewrote the arguments: call <see cref="ApplyArguments"/> before running the function.</summary>
        public bool ArgumentsModified => Decision.Params != null;

        /// <summary>
        /// For a call that must not run: a message for the model (and the log) that says it
        /// was blocked and why; for one that may run, "".
        /// </summary>
        public string Message
        {
            get
            {
                if (Decision.Allowed) return "";
                switch (Decision.Code)
                {
                    case DecisionCode.ApprovalRequired:
                        return "This call needs a person's approval before it can run: " + Decision.Reason.TrimEnd('.') +
                               " (action " + Decision.ActionHash + ").";
                    case DecisionCode.RateLimited:
                        string retry = Decision.RetryAfterMs.HasValue
                            ? " Retry in " + Decision.RetryAfterMs.Value.ToString(CultureInfo.InvariantCulture) + " ms."
                            : "";
                        return "This call is rate-limited by policy: " + Decision.Reason.TrimEnd('.') + "." + retry;
                    default:
                        return "This call is blocked by policy: " + Decision.Reason.TrimEnd('.') + ".";
                }
            }
        }

        /// <summary>
        /// Makes <paramref name="arguments"/> hold the arguments the policy allows: when the
        /// policy rewrote them, keys it removed are removed, changed values are replaced and
        /// added keys are added; unchanged values keep their original objects. A rewritten
        /// number is stored as the original value's numeric type when it is exactly
        /// representable in it (a clamped <c>int</c> stays an <c>int</c>). Does nothing when
        /// the arguments were not rewritten.
        /// </summary>
        /// <exception cref="ArgumentNullException"><paramref name="arguments"/> is null.</exception>
        /// <exception cref="InvalidOperationException">The call must not run (<see cref="Proceed"/> is false).</exception>
        public void ApplyArguments(IDictionary<string, object> arguments)
        {
            if (arguments == null) throw new ArgumentNullException(nameof(arguments));
            if (!Proceed) throw new InvalidOperationException("the call was not allowed; its arguments must not be used");
            IDictionary<string, object> rewritten = Decision.Params;
            if (rewritten == null) return;

            var removed = new List<string>();
            foreach (var key in arguments.Keys)
            {
                if (!rewritten.ContainsKey(key)) removed.Add(key);
            }
            foreach (var key in removed) arguments.Remove(key);

            foreach (var entry in rewritten)
            {
                object original;
                if (arguments.TryGetValue(entry.Key, out original))
                {
                    if (SameJson(original, entry.Value)) continue;
                    arguments[entry.Key] = AsTypeOf(original, entry.Value);
                }
                else
                {
                    arguments[entry.Key] = entry.Value;
                }
            }
        }

        private static bool SameJson(object original, object rewritten)
        {
            try
            {
                return JsonWriter.Write(original) == JsonWriter.Write(rewritten);
            }
            catch (UnrepresentableValueException)
            {
                return false;
            }
        }

        /// <summary>The rewritten number in the original's numeric type, when it fits exactly; otherwise the rewritten value.</summary>
        private static object AsTypeOf(object original, object rewritten)
        {
            if (original == null || rewritten == null || original is Enum) return rewritten;
            TypeCode target = Type.GetTypeCode(original.GetType());
            if (!IsNumeric(target) || !IsNumeric(Type.GetTypeCode(rewritten.GetType()))) return rewritten;
            try
            {
                object converted = Convert.ChangeType(rewritten, target, CultureInfo.InvariantCulture);
                object back = Convert.ChangeType(converted, rewritten.GetType(), CultureInfo.InvariantCulture);
                return back.Equals(rewritten) ? converted : rewritten;
            }
            catch (OverflowException)
            {
                return rewritten;
            }
        }

        private static bool IsNumeric(TypeCode code)
        {
            return code >= TypeCode.SByte && code <= TypeCode.Decimal;
        }
    }
}
