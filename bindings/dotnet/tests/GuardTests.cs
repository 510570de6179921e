using System;
using System.Collections.Generic;

namespace Portcullis.Tests
{
    /// <summary>FunctionCallGuard: the framework-neutral part of a Semantic Kernel (or similar) filter.</summary>
    internal static class GuardTests
    {
        private const string Policy = @"{
          'portcullis': 1, 'name': 'guard', 'default': 'deny',
          'rules': [
            { 'id': 'search', 'effect': 'allow', 'match': { 'tool': ['web.search'] },
              'modify': { 'set': { 'params.safe': true }, 'remove': ['params.debug'], 'clamp': { 'params.count': { 'min': 1, 'max': 10 } } } },
            { 'id': 'time', 'effect': 'allow', 'match': { 'tool': ['now'] } },
            { 'id': 'no-delete', 'effect': 'deny', 'match': { 'tool': ['files.delete'] }, 'reason': 'deleting files is not allowed.' },
            { 'id': 'send', 'effect': 'require_approval', 'match': { 'tool': ['email.send'] }, 'reason': 'a person reviews outgoing mail' },
            { 'id': 'fetch', 'effect': 'allow', 'match': { 'tool': ['web.fetch'] } },
            { 'id': 'fetch-limit', 'effect': 'rate_limit', 'match': { 'tool': ['web.fetch'] }, 'limit': { 'max': 1, 'window': '1m' } },
            { 'id': 'tenant-only', 'effect': 'deny', 'match': { 'tool': ['crm.*'] },
              'unless': { 'field': 'context.tenant', 'eq': 'acme' } },
            { 'id': 'crm', 'effect': 'allow', 'match': { 'tool': ['crm.*'] } }
          ]
        }";

        private static Engine NewEngine()
        {
            return EngineTests.NewEngine(Policy);
        }

        [Test]
        public static void Tool_names_join_plugin_and_function()
        {
            Assert.Equal("email.send", FunctionCallGuard.ToolName("email", "send"), "with a plugin");
            Assert.Equal("now", FunctionCallGuard.ToolName(null, "now"), "null plugin");
            Assert.Equal("now", FunctionCallGuard.ToolName("", "now"), "empty plugin");
            Assert.Throws<ArgumentNullException>(() => FunctionCallGuard.ToolName("p", null), "null function");
        }

        [Test]
        public static void A_call_maps_to_an_action_with_the_guard_agent_and_context()
        {
            using (var engine = NewEngine())
            {
                var guard = new FunctionCallGuard(engine, "assistant") { Context = new Dictionary<string, object> { { "tenant", "acme" } } };
                ToolCall call = guard.ToToolCall("web", "search", new Dictionary<string, object> { { "query", "x" } });
                Assert.Equal("{\"tool\":\"web.search\",\"agent\":{\"id\":\"assistant\"},\"params\":{\"query\":\"x\"},\"context\":{\"tenant\":\"acme\"}}",
                             call.ToJson(), "action");
                Assert.Equal("{\"tool\":\"now\",\"agent\":{\"id\":\"assistant\"},\"params\":{}}",
                             new FunctionCallGuard(engine, "assistant").ToToolCall(null, "now", null).ToJson(), "no plugin, no arguments");
                Assert.Equal(true, guard.Check("crm", "read", null).Proceed, "context reaches the engine");
                guard.Context = null;
                Assert.Equal(false, guard.Check("crm", "read", null).Proceed, "without the tenant");
            }
        }

        [Test]
        public static void An_allowed_call_proceeds_with_its_arguments()
        {
            using (var engine = NewEngine())
            {
                var guard = new FunctionCallGuard(engine, "assistant");
                var arguments = new Dictionary<string, object> { { "zone", "UTC" } };
                GuardOutcome outcome = guard.Check(null, "now", arguments);
                Assert.True(outcome.Proceed, "proceeds");
                Assert.Equal(false, outcome.ArgumentsModified, "not modified");
                Assert.Equal("", outcome.Message, "no message");
                outcome.ApplyArguments(arguments);
                Assert.Equal(1, arguments.Count, "untouched");
            }
        }

        [Test]
        public static void Rewritten_arguments_are_applied_in_place_keeping_types()
        {
            using (var engine = NewEngine())
            {
                var guard = new FunctionCallGuard(engine, "assistant");
                var filters = new List<object> { "news" };
                var arguments = new Dictionary<string, object>
                {
                    { "query", "agents" }, { "count", 500 }, { "debug", true }, { "filters", filters },
                };
                GuardOutcome outcome = guard.Check("web", "search", arguments);
                Assert.True(outcome.Proceed, "proceeds");
                Assert.True(outcome.ArgumentsModified, "modified");
                outcome.ApplyArguments(arguments);
                Assert.Equal(false, arguments.ContainsKey("debug"), "a removed argument is removed");
                Assert.Equal<object>(10, arguments["count"], "a clamped int stays an int");
                Assert.Equal<object>(true, arguments["safe"], "a set argument is added");
                Assert.Equal<object>("agents", arguments["query"], "unchanged");
                Assert.True(ReferenceEquals(filters, arguments["filters"]), "an unchanged value keeps its original object");
                Assert.Equal(4, arguments.Count, "count");
            }
        }

        /// <summary>Like Semantic Kernel's KernelArguments: the generic dictionary interface only.</summary>
        private sealed class ArgumentsLike : IDictionary<string, object>
        {
            private readonly Dictionary<string, object> inner = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);

            public object this[string key] { get { return inner[key]; } set { inner[key] = value; } }
            public ICollection<string> Keys => inner.Keys;
            public ICollection<object> Values => inner.Values;
            public int Count => inner.Count;
            public bool IsReadOnly => false;
            public void Add(string key, object value) { inner.Add(key, value); }
            public void Add(KeyValuePair<string, object> item) { inner.Add(item.Key, item.Value); }
            public void Clear() { inner.Clear(); }
            public bool Contains(KeyValuePair<string, object> item) { return ((ICollection<KeyValuePair<string, object>>)inner).Contains(item); }
            public bool ContainsKey(string key) { return inner.ContainsKey(key); }
            public void CopyTo(KeyValuePair<string, object>[] array, int index) { ((ICollection<KeyValuePair<string, object>>)inner).CopyTo(array, index); }
            public IEnumerator<KeyValuePair<string, object>> GetEnumerator() { return inner.GetEnumerator(); }
            System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() { return inner.GetEnumerator(); }
            public bool Remove(string key) { return inner.Remove(key); }
            public bool Remove(KeyValuePair<string, object> item) { return ((ICollection<KeyValuePair<string, object>>)inner).Remove(item); }
            public bool TryGetValue(string key, out object value) { return inner.TryGetValue(key, out value); }
        }

        [Test]
        public static void A_framework_argument_collection_is_read_and_rewritten()
        {
            using (var engine = NewEngine())
            {
                var arguments = new ArgumentsLike { { "query", "agents" }, { "count", 99L }, { "debug", "yes" } };
                var guard = new FunctionCallGuard(engine, "assistant");
                Assert.Equal("{\"tool\":\"web.search\",\"agent\":{\"id\":\"assistant\"},\"params\":{\"query\":\"agents\",\"count\":99,\"debug\":\"yes\"}}",
                             guard.ToToolCall("web", "search", arguments).ToJson(), "the arguments are the action's params");
                GuardOutcome outcome = guard.Check("web", "search", arguments);
                Assert.True(outcome.ArgumentsModified, "modified");
                outcome.ApplyArguments(arguments);
                Assert.Equal(3, arguments.Count, "count");
                Assert.Equal<object>(10L, arguments["count"], "a clamped long stays a long");
                Assert.Equal<object>(true, arguments["safe"], "added");
                Assert.Equal(false, arguments.ContainsKey("debug"), "removed");
            }
        }

        [Test]
        public static void A_rewritten_number_that_does_not_fit_the_original_type_keeps_the_engine_type()
        {
            using (var engine = NewEngine())
            {
                var guard = new FunctionCallGuard(engine, "assistant");
                var arguments = new Dictionary<string, object> { { "count", 0.25 } };
                GuardOutcome outcome = guard.Check("web", "search", arguments);
                outcome.ApplyArguments(arguments);
                Assert.Equal<object>(1.0, arguments["count"], "clamped to min 1: a double in, a double out");
                arguments = new Dictionary<string, object> { { "count", (byte)200 } };
                guard.Check("web", "search", arguments).ApplyArguments(arguments);
                Assert.Equal<object>((byte)10, arguments["count"], "a byte stays a byte");
            }
        }

        [Test]
        public static void A_denied_call_does_not_proceed_and_says_why()
        {
            using (var engine = NewEngine())
            {
                var guard = new FunctionCallGuard(engine, "assistant");
                var arguments = new Dictionary<string, object> { { "path", "/etc/passwd" } };
                GuardOutcome outcome = guard.Check("files", "delete", arguments);
                Assert.Equal(false, outcome.Proceed, "does not proceed");
                Assert.Equal(DecisionCode.Rule, outcome.Decision.Code, "code");
                Assert.Equal("This call is blocked by policy: deleting files is not allowed.", outcome.Message, "message");
                Assert.Throws<InvalidOperationException>(() => outcome.ApplyArguments(arguments), "arguments of a denied call");
                Assert.Equal(false, guard.Check("unknown", "tool", null).Proceed, "default deny");
            }
        }

        [Test]
        public static void A_call_needing_approval_does_not_proceed_until_approved()
        {
            using (var engine = NewEngine())
            {
                var guard = new FunctionCallGuard(engine, "assistant");
                var arguments = new Dictionary<string, object> { { "to", "ceo@example.com" } };
                GuardOutcome outcome = guard.Check("email", "send", arguments);
                Assert.Equal(false, outcome.Proceed, "pending");
                Assert.Equal("This call needs a person's approval before it can run: a person reviews outgoing mail (action " + outcome.Decision.ActionHash + ").",
                             outcome.Message, "message");
                engine.ApproveHash(outcome.Decision.ActionHash, TimeSpan.FromMinutes(5));
                Assert.True(guard.Check("email", "send", arguments).Proceed, "approved");
            }
        }

        [Test]
        public static void A_rate_limited_call_says_when_to_retry()
        {
            using (var engine = NewEngine())
            {
                var guard = new FunctionCallGuard(engine, "assistant");
                Assert.True(guard.Check("web", "fetch", null).Proceed, "first");
                GuardOutcome outcome = guard.Check("web", "fetch", null);
                Assert.Equal(false, outcome.Proceed, "second");
                Assert.Contains("This call is rate-limited by policy: ", outcome.Message, "message");
                Assert.Contains("Retry in 60000 ms.", outcome.Message, "retry");
            }
        }

        [Test]
        public static void Arguments_without_json_form_are_denied()
        {
            using (var engine = NewEngine())
            {
                GuardOutcome outcome = new FunctionCallGuard(engine, "assistant").Check(null, "now", new Dictionary<string, object> { { "x", double.NaN } });
                Assert.Equal(false, outcome.Proceed, "does not proceed");
                Assert.Equal(DecisionCode.InvalidAction, outcome.Decision.Code, "code");
                Assert.Contains("params.x", outcome.Message, "message names the argument");
            }
        }

        [Test]
        public static void Prompt_functions_are_recognised_by_their_generated_name_only()
        {
            string generated = "func" + Guid.NewGuid().ToString("N");
            Assert.True(FunctionCallGuard.IsPromptFunction(null, generated), "no plugin, func + guid");
            Assert.True(FunctionCallGuard.IsPromptFunction("", generated.ToUpperInvariant().Replace("FUNC", "func")), "upper-case hex");
            Assert.Equal(false, FunctionCallGuard.IsPromptFunction("email", generated), "a plugin function");
            Assert.Equal(false, FunctionCallGuard.IsPromptFunction(null, "funcs"), "too short");
            Assert.Equal(false, FunctionCallGuard.IsPromptFunction(null, "func" + new string('g', 32)), "not hex");
            Assert.Equal(false, FunctionCallGuard.IsPromptFunction(null, null), "null");
        }

        [Test]
        public static void Prompt_functions_are_evaluated_under_one_stable_tool_name()
        {
            const string policy = @"{ 'portcullis': 1, 'name': 'prompts', 'default': 'deny',
              'rules': [ { 'id': 'prompts', 'effect': 'allow', 'match': { 'tool': ['sk.prompt'] } } ] }";
            using (var engine = EngineTests.NewEngine(policy))
            {
                var guard = new FunctionCallGuard(engine, "assistant");
                string generated = "func" + Guid.NewGuid().ToString("N");
                var arguments = new Dictionary<string, object> { { "input", "hi" } };
                Assert.Equal("sk.prompt", guard.ToToolCall(null, generated, arguments).Tool, "tool name");
                Assert.True(guard.Check(null, generated, arguments).Proceed, "allowed by the sk.prompt rule");
                Assert.Equal(false, guard.Check(null, "func", arguments).Proceed, "an ordinary function is not a prompt function");

                guard.PromptFunctionToolName = null;   // evaluated under the generated name: the default deny applies
                Assert.Equal(generated, guard.ToToolCall(null, generated, null).Tool, "raw name");
                Assert.Equal(false, guard.Check(null, generated, arguments).Proceed, "denied by default");
            }
            using (var engine = EngineTests.NewEngine(@"{ 'portcullis': 1, 'name': 'strict', 'default': 'deny', 'rules': [] }"))
            {
                GuardOutcome outcome = new FunctionCallGuard(engine, "assistant").Check(null, "func" + Guid.NewGuid().ToString("N"), null);
                Assert.Equal(false, outcome.Proceed, "a default-deny policy without the rule still blocks prompt functions");
            }
        }
    }
}
