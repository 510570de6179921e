using System;
using System.Collections.Generic;
using System.Linq;

namespace Portcullis.Tests
{
    /// <summary>The public Engine API: decisions, approvals, the clock, errors and disposal.</summary>
    internal static class EngineTests
    {
        internal static readonly DateTimeOffset Start = new DateTimeOffset(2026, 5, 22, 12, 0, 0, TimeSpan.Zero);

        /// <summary>JSON written with single quotes, for readability.</summary>
        internal static string J(string singleQuoted)
        {
            return singleQuoted.Replace('\'', '"');
        }

        internal const string Policy = @"{
          'portcullis': 1, 'name': 'unit', 'version': '2026-05-22.1', 'default': 'deny',
          'agents': [ { 'id': 'ops', 'roles': ['operator'] } ],
          'rules': [
            { 'id': 'search', 'effect': 'allow', 'match': { 'tool': ['search.*'] },
              'modify': { 'set': { 'params.safe': true }, 'remove': ['params.debug'], 'clamp': { 'params.limit': { 'max': 50 } } } },
            { 'id': 'no-shell', 'effect': 'deny', 'match': { 'tool': ['shell.*'] }, 'reason': 'no shells' },
            { 'id': 'big-pay', 'effect': 'require_approval', 'match': { 'tool': ['payments.send'] },
              'when': { 'field': 'params.amount', 'gt': 100 } },
            { 'id': 'pay', 'effect': 'allow', 'match': { 'tool': ['payments.send'] } },
            { 'id': 'watch-pay', 'effect': 'deny', 'shadow': true, 'match': { 'tool': ['payments.*'] } },
            { 'id': 'fetch', 'effect': 'allow', 'match': { 'tool': ['http.get'] } },
            { 'id': 'fetch-limit', 'effect': 'rate_limit', 'match': { 'tool': ['http.get'] },
              'limit': { 'max': 2, 'window': '1m' } },
            { 'id': 'tenant', 'effect': 'allow', 'match': { 'tool': ['crm.read'] },
              'when': { 'field': 'context.tenant', 'eq': 'acme' } }
          ]
        }";

        internal static Engine NewEngine(string policy = Policy)
        {
            return Engine.FromPolicy(J(policy), new EngineOptions { ManualClockStart = Start });
        }

        [Test]
        public static void A_deny_rule_decides_with_every_field()
        {
            using (var engine = NewEngine())
            {
                Decision d = engine.Evaluate(J("{'tool': 'shell.exec', 'agent': {'id': 'a1'}, 'params': {'cmd': 'ls'}}"));
                Assert.Equal(Effect.Deny, d.Effect, "effect");
                Assert.Equal(false, d.Allowed, "allowed");
                Assert.Equal(DecisionCode.Rule, d.Code, "code");
                Assert.Equal("no-shell", d.Rule, "rule");
                Assert.Equal("no shells", d.Reason, "reason");
                Assert.Sequence(new[] { "no-shell" }, d.Matched, "matched");
                Assert.Equal(0, d.Shadow.Count, "shadow count");
                Assert.Equal(null, d.Params, "params");
                Assert.Equal(null, d.RetryAfterMs, "retry_after_ms");
                Assert.True(d.ActionHash.StartsWith("sha256:") && d.ActionHash.Length == 7 + 64, "a sha256 action hash, got " + d.ActionHash);
                Assert.Equal("unit", d.PolicyName, "policy name");
                Assert.Equal("2026-05-22.1", d.PolicyVersion, "policy version");
                Assert.True(d.EvalNs >= 0, "eval_ns is not negative");
                Assert.Contains("\"effect\":\"deny\"", d.Json, "decision JSON");
                Assert.Equal("deny (rule no-shell): no shells", d.ToString(), "ToString");
            }
        }

        [Test]
        public static void No_firing_rule_gives_the_default_without_a_rule()
        {
            using (var engine = NewEngine())
            {
                Decision d = engine.Evaluate(new ToolCall("email.send", "a1"));
                Assert.Equal(Effect.Deny, d.Effect, "effect");
                Assert.Equal(DecisionCode.Default, d.Code, "code");
                Assert.Equal(null, d.Rule, "rule");
                Assert.Equal(0, d.Matched.Count, "matched count");
            }
        }

        [Test]
        public static void Modified_params_come_back_as_dotnet_values()
        {
            using (var engine = NewEngine())
            {
                var call = new ToolCall("search.web", "a1", new Dictionary<string, object>
                {
                    { "q", "x" }, { "limit", 500 }, { "debug", true }, { "weights", new[] { 0.5, 2.0 } },
                });
                Decision d = engine.Evaluate(call);
                Assert.Equal(Effect.Allow, d.Effect, "effect");
                Assert.True(d.Allowed, "allowed");
                Assert.True(d.Params != null, "params were rewritten");
                Assert.Sequence(new[] { "limit", "q", "safe", "weights" }, d.Params.Keys.OrderBy(k => k, StringComparer.Ordinal), "params keys");
                Assert.Equal<object>("x", d.Params["q"], "q");
                Assert.Equal<object>(50L, d.Params["limit"], "limit (an integer is a long)");
                Assert.Equal<object>(true, d.Params["safe"], "safe");
                var weights = (IList<object>)d.Params["weights"];
                Assert.Equal<object>(0.5, weights[0], "weights[0] (a fraction is a double)");
                Assert.Equal(false, d.Params.ContainsKey("debug"), "debug removed");
            }
        }

        [Test]
        public static void Unchanged_params_are_null()
        {
            using (var engine = NewEngine())
            {
                Decision d = engine.Evaluate(J("{'tool': 'search.web', 'agent': {'id': 'a1'}, 'params': {'q': 'x', 'safe': true}}"));
                Assert.Equal(Effect.Allow, d.Effect, "effect");
                Assert.Equal(null, d.Params, "params");
            }
        }

        [Test]
        public static void Shadow_hits_are_reported_without_effect()
        {
            using (var engine = NewEngine())
            {
                Decision d = engine.Evaluate(new ToolCall("payments.send", "a1", new Dictionary<string, object> { { "amount", 5 } }));
                Assert.Equal(Effect.Allow, d.Effect, "effect");
                Assert.Equal("pay", d.Rule, "rule");
                Assert.Equal(1, d.Shadow.Count, "shadow count");
                Assert.Equal("watch-pay", d.Shadow[0].Rule, "shadow rule");
                Assert.Equal(RuleEffect.Deny, d.Shadow[0].Effect, "shadow effect");
            }
            string limits = J("{'portcullis': 1, 'name': 'p', 'default': 'allow', 'rules': [" +
                              "{'id': 'trial-limit', 'effect': 'rate_limit', 'shadow': true, 'limit': {'max': 1, 'window': '1m'}}]}");
            using (var engine = Engine.FromPolicy(limits))
            {
                Decision d = engine.Evaluate(new ToolCall("t", "a1"));
                Assert.Equal(1, d.Shadow.Count, "shadow count");
                Assert.Equal(RuleEffect.RateLimit, d.Shadow[0].Effect, "a shadow rate limit");
                Assert.Equal("trial-limit (rate_limit)", d.Shadow[0].ToString(), "ToString");
            }
        }

        [Test]
        public static void Rate_limits_report_retry_after()
        {
            using (var engine = NewEngine())
            {
                var call = new ToolCall("http.get", "a1", new Dictionary<string, object> { { "url", "https://example.com" } });
                Assert.Equal(Effect.Allow, engine.Evaluate(call).Effect, "first");
                engine.SetTime(Start.AddSeconds(10));
                Assert.Equal(Effect.Allow, engine.Evaluate(call).Effect, "second");
                Decision third = engine.Evaluate(call);
                Assert.Equal(Effect.Deny, third.Effect, "third");
                Assert.Equal(DecisionCode.RateLimited, third.Code, "code");
                Assert.Equal("fetch-limit", third.Rule, "rule");
                Assert.Equal<long?>(50000, third.RetryAfterMs, "retry after: the first admission leaves the window at +60s");
                engine.SetTime(Start.AddSeconds(60));
                Assert.Equal(Effect.Allow, engine.Evaluate(call).Effect, "after the window");
            }
        }

        [Test]
        public static void Context_reaches_conditions()
        {
            using (var engine = NewEngine())
            {
                var call = new ToolCall("crm.read", "a1") { Context = new Dictionary<string, object> { { "tenant", "acme" } } };
                Assert.Equal(Effect.Allow, engine.Evaluate(call).Effect, "tenant acme");
                call.Context["tenant"] = "other";
                Assert.Equal(Effect.Deny, engine.Evaluate(call).Effect, "another tenant");
            }
        }

        [Test]
        public static void An_approval_covers_the_same_call_for_its_uses()
        {
            using (var engine = NewEngine())
            {
                var call = new ToolCall("payments.send", "a1", new Dictionary<string, object> { { "amount", 500 } });
                Decision pending = engine.Evaluate(call);
                Assert.Equal(Effect.RequireApproval, pending.Effect, "before approval");
                Assert.Equal(DecisionCode.ApprovalRequired, pending.Code, "code before approval");
                Assert.Equal("big-pay", pending.Rule, "rule");

                string hash = engine.Approve(call, TimeSpan.FromMinutes(1));
                Assert.Equal(pending.ActionHash, hash, "the approval's hash is the decision's");

                var other = new ToolCall("payments.send", "a1", new Dictionary<string, object> { { "amount", 501 } });
                Assert.Equal(Effect.RequireApproval, engine.Evaluate(other).Effect, "another amount is not covered");
                Decision approved = engine.Evaluate(call);
                Assert.Equal(Effect.Allow, approved.Effect, "approved");
                Assert.Equal(DecisionCode.Approved, approved.Code, "code");
                Assert.Equal(Effect.RequireApproval, engine.Evaluate(call).Effect, "one use only");
            }
        }

        [Test]
        public static void An_approval_by_hash_expires_with_the_clock()
        {
            using (var engine = NewEngine())
            {
                string action = J("{'tool': 'payments.send', 'agent': {'id': 'a1'}, 'params': {'amount': 900}}");
                string hash = engine.Evaluate(action).ActionHash;
                engine.ApproveHash(hash, TimeSpan.FromSeconds(30), uses: 5);
                Assert.Equal(DecisionCode.Approved, engine.Evaluate(action).Code, "within the TTL");
                engine.SetTime(Start.AddSeconds(30));
                Assert.Equal(DecisionCode.ApprovalRequired, engine.Evaluate(action).Code, "at the end of the TTL");
            }
        }

        [Test]
        public static void Approve_with_a_json_action_returns_its_hash()
        {
            using (var engine = NewEngine())
            {
                string hash = engine.Approve(J("{'params': {'amount': 500}, 'agent': {'id': 'a1'}, 'tool': 'payments.send'}"), TimeSpan.FromMinutes(1), 2);
                var call = new ToolCall("payments.send", "a1", new Dictionary<string, object> { { "amount", 500.0 } });
                Decision d = engine.Evaluate(call);
                Assert.Equal(hash, d.ActionHash, "key order and 500 vs 500.0 do not change the hash");
                Assert.Equal(DecisionCode.Approved, d.Code, "approved");
                Assert.Equal(DecisionCode.Approved, engine.Evaluate(call).Code, "second use");
                Assert.Equal(DecisionCode.ApprovalRequired, engine.Evaluate(call).Code, "no third use");
            }
        }

        [Test]
        public static void Approval_arguments_are_checked()
        {
            using (var engine = NewEngine())
            {
                var call = new ToolCall("payments.send", "a1");
                Assert.Throws<InvalidArgumentException>(() => engine.Approve(call, TimeSpan.Zero), "zero TTL");
                Assert.Throws<InvalidArgumentException>(() => engine.Approve(call, TimeSpan.FromTicks(9999)), "TTL under a millisecond");
                Assert.Throws<InvalidArgumentException>(() => engine.Approve(call, TimeSpan.FromSeconds(-5)), "negative TTL");
                Assert.Throws<InvalidArgumentException>(() => engine.Approve(call, TimeSpan.FromMinutes(1), 0), "zero uses");
                Assert.Throws<InvalidArgumentException>(() => engine.Approve(call, TimeSpan.FromMinutes(1), -1), "negative uses");
                Assert.Throws<InvalidArgumentException>(() => engine.ApproveHash("sha256:abc", TimeSpan.FromMinutes(1)), "short hash");
                Assert.Throws<InvalidArgumentException>(() => engine.ApproveHash("sha256:" + new string('A', 64), TimeSpan.FromMinutes(1)), "uppercase hash");
                Assert.Throws<InvalidArgumentException>(() => engine.ApproveHash("sha256:\ud800" + new string('a', 63), TimeSpan.FromMinutes(1)), "lone surrogate in a hash");
                engine.ApproveHash("sha256:" + new string('a', 64), TimeSpan.FromMinutes(1));
            }
        }

        [Test]
        public static void Approving_an_invalid_action_throws()
        {
            using (var engine = NewEngine())
            {
                Assert.Throws<InvalidActionException>(() => engine.Approve("{not json", TimeSpan.FromMinutes(1)), "not JSON");
                var e = Assert.Throws<InvalidActionException>(() => engine.Approve(new ToolCall(null, "a1"), TimeSpan.FromMinutes(1)), "no tool");
                Assert.Contains("tool", e.Message, "message");
                var nan = new ToolCall("t", "a1", new Dictionary<string, object> { { "x", double.NaN } });
                e = Assert.Throws<InvalidActionException>(() => engine.Approve(nan, TimeSpan.FromMinutes(1)), "NaN argument");
                Assert.Contains("params.x", e.Message, "message");
                Assert.Throws<InvalidActionException>(() => engine.Approve("{\"tool\":\"t\",\"agent\":{\"id\":\"\ud800\"}}", TimeSpan.FromMinutes(1)), "raw lone surrogate");
            }
        }

        [Test]
        public static void The_manual_clock_is_set_and_read()
        {
            using (var engine = NewEngine())
            {
                Assert.Equal(Start, engine.Now, "starts at ManualClockStart");
                var later = new DateTimeOffset(2030, 1, 2, 3, 4, 5, 678, TimeSpan.FromHours(2));
                engine.SetTime(later);
                Assert.Equal(later, engine.Now, "set");
                Assert.Equal(later.ToUnixTimeMilliseconds(), engine.Now.ToUnixTimeMilliseconds(), "same instant");
            }
        }

        [Test]
        public static void The_system_clock_cannot_be_set()
        {
            using (var engine = Engine.FromPolicy(J("{'portcullis': 1, 'name': 'p'}")))
            {
                DateTimeOffset now = engine.Now;
                Assert.True(Math.Abs((now - DateTimeOffset.UtcNow).TotalSeconds) < 60, "Now reads the system clock, got " + now);
                var e = Assert.Throws<ClockException>(() => engine.SetTime(Start), "SetTime");
                Assert.True(e is PortcullisException, "ClockException is a PortcullisException");
            }
        }

        [Test]
        public static void Policy_errors_carry_path_and_detail()
        {
            string bad = J("{'portcullis': 1, 'name': 'p', 'rules': [{'id': 'r', 'effect': 'deny', 'when': {'field': 'tool', 'equals': 'x'}}]}");
            var e = Assert.Throws<PolicyException>(() => Engine.FromPolicy(bad), "unknown operator");
            Assert.Equal("rules[0].when", e.Path, "path");
            Assert.Contains("equals", e.Detail, "detail");
            Assert.Equal(e.Path + ": " + e.Detail, e.Message, "message");

            e = Assert.Throws<PolicyException>(() => Engine.FromPolicy("{\"portcullis\": 1,\n  \"name\": }"), "not JSON");
            Assert.Equal("", e.Path, "path of a syntax error");
            Assert.Contains("line 2", e.Detail, "a syntax error gives the line");

            e = Assert.Throws<PolicyException>(() => Engine.FromPolicy(J("{'portcullis': 1, 'name': 'p', 'extra': 1}")), "unknown key");
            Assert.Equal("", e.Path, "root path");
            Assert.Equal(e.Detail, e.Message, "no path prefix at the root");

            e = Assert.Throws<PolicyException>(() => Engine.FromPolicy("{\"portcullis\": 1, \"name\": \"\ud800\"}"), "lone surrogate");
            Assert.Contains("lone surrogate", e.Detail, "detail");
            Assert.Throws<PolicyException>(() => Engine.FromPolicy(""), "empty text");
            Assert.Throws<ArgumentNullException>(() => Engine.FromPolicy(null), "null");
        }

        [Test]
        public static void A_failed_update_keeps_the_current_policy()
        {
            using (var engine = NewEngine())
            {
                string shell = J("{'tool': 'shell.exec', 'agent': {'id': 'a1'}}");
                var e = Assert.Throws<PolicyException>(() => engine.UpdatePolicy(J("{'portcullis': 2, 'name': 'v2'}")), "bad update");
                Assert.Equal("portcullis", e.Path, "path");
                Decision d = engine.Evaluate(shell);
                Assert.Equal("unit", d.PolicyName, "old policy still decides");
                Assert.Equal("no-shell", d.Rule, "old rule");

                engine.UpdatePolicy(J("{'portcullis': 1, 'name': 'v2', 'default': 'allow'}"));
                d = engine.Evaluate(shell);
                Assert.Equal("v2", d.PolicyName, "new policy");
                Assert.Equal(null, d.PolicyVersion, "no version");
                Assert.Equal(Effect.Allow, d.Effect, "new default");
                Assert.Throws<ArgumentNullException>(() => engine.UpdatePolicy(null), "null");
            }
        }

        [Test]
        public static void Bad_action_content_is_a_deny_never_an_exception()
        {
            using (var engine = Engine.FromPolicy(J("{'portcullis': 1, 'name': 'open', 'default': 'allow'}")))
            {
                string deep = new string('[', 70) + new string(']', 70);
                var raw = new Dictionary<string, string>
                {
                    { "not JSON", "{not json" },
                    { "empty text", "" },
                    { "an array", "[1,2]" },
                    { "no tool", J("{'agent': {'id': 'a1'}}") },
                    { "no agent", J("{'tool': 't'}") },
                    { "a wrong kind", J("{'tool': 't', 'agent': {'id': 'a1'}, 'kind': 'rpc'}") },
                    { "a duplicate key", J("{'tool': 't', 'tool': 'u', 'agent': {'id': 'a1'}}") },
                    { "an escaped lone surrogate", J("{'tool': 't', 'agent': {'id': 'a1'}, 'params': {'x': '\\ud800'}}") },
                    { "a raw lone surrogate", J("{'tool': 't', 'agent': {'id': 'a1'}, 'params': {'x': '\ud800'}}") },
                    { "a number out of range", J("{'tool': 't', 'agent': {'id': 'a1'}, 'params': {'x': 1e400}}") },
                    { "nesting past 64 levels", J("{'tool': 't', 'agent': {'id': 'a1'}, 'params': {'x': " + deep + "}}") },
                };
                foreach (var entry in raw)
                {
                    Decision d = engine.Evaluate(entry.Value);
                    Assert.Equal(Effect.Deny, d.Effect, entry.Key + ": effect");
                    Assert.Equal(DecisionCode.InvalidAction, d.Code, entry.Key + ": code");
                    Assert.Equal(null, d.ActionHash, entry.Key + ": action hash");
                    Assert.Equal("open", d.PolicyName, entry.Key + ": policy name");
                    Assert.True(d.Reason.Length > 0, entry.Key + ": a reason");
                }
                Assert.Contains("lone surrogate", engine.Evaluate(raw["a raw lone surrogate"]).Reason, "reason names the lone surrogate");
                Assert.Contains("tool", engine.Evaluate(raw["no tool"]).Reason, "reason names the missing field");
                Assert.Equal(Effect.Allow, engine.Evaluate(J("{'tool': 't', 'agent': {'id': 'a1'}}")).Effect, "a valid action");
                Assert.Throws<ArgumentNullException>(() => engine.Evaluate((string)null), "null text");
                Assert.Throws<ArgumentNullException>(() => engine.Evaluate((ToolCall)null), "null call");
            }
        }

        [Test]
        public static void Mutated_actions_get_a_decision_never_an_exception()
        {
            string seed = J("{'tool': 'search.web', 'agent': {'id': 'a1'}, 'params': {'q': 'x', 'limit': 500, 'tags': ['a', 1.5]}}");
            const string alphabet = "{}[]\",:\\ 0123456789.eE-truefalsnu\u00e9\ud800\udc00";
            var random = new Random(5);
            using (var engine = NewEngine())
            {
                int invalid = 0;
                for (int i = 0; i < 3000; i++)
                {
                    var text = new System.Text.StringBuilder(seed);
                    for (int e = random.Next(1, 4); e > 0 && text.Length > 0; e--)
                    {
                        int at = random.Next(text.Length);
                        if (random.Next(2) == 0) text.Remove(at, 1);
                        else text.Insert(at, alphabet[random.Next(alphabet.Length)]);
                    }
                    Decision d = engine.Evaluate(text.ToString());
                    if (d.Code == DecisionCode.InvalidAction)
                    {
                        invalid++;
                        Assert.Equal(Effect.Deny, d.Effect, "an invalid action is denied: " + text);
                    }
                }
                Assert.True(invalid > 100, "many mutations are invalid (" + invalid + ")");
            }
        }

        [Test]
        public static void Bad_tool_call_content_is_a_deny_never_an_exception()
        {
            using (var engine = Engine.FromPolicy(J("{'portcullis': 1, 'name': 'open', 'default': 'allow'}")))
            {
                object cycle = null;
                var selfReferencing = new List<object>();
                selfReferencing.Add(selfReferencing);
                cycle = selfReferencing;
                var calls = new Dictionary<string, ToolCall>
                {
                    { "no tool", new ToolCall(null, "a1") },
                    { "no agent", new ToolCall("t", null) },
                    { "an empty tool", new ToolCall("", "a1") },
                    { "NaN", new ToolCall("t", "a1", new Dictionary<string, object> { { "x", double.NaN } }) },
                    { "infinity", new ToolCall("t", "a1", new Dictionary<string, object> { { "x", float.PositiveInfinity } }) },
                    { "an unknown type", new ToolCall("t", "a1", new Dictionary<string, object> { { "x", new object() } }) },
                    { "a cycle", new ToolCall("t", "a1", new Dictionary<string, object> { { "x", cycle } }) },
                    { "a lone surrogate", new ToolCall("t", "a1", new Dictionary<string, object> { { "x", "a\udc00b" } }) },
                    { "an undefined kind", new ToolCall("t", "a1") { Kind = (ActionKind)7 } },
                };
                foreach (var entry in calls)
                {
                    Decision d = engine.Evaluate(entry.Value);
                    Assert.Equal(Effect.Deny, d.Effect, entry.Key + ": effect");
                    Assert.Equal(DecisionCode.InvalidAction, d.Code, entry.Key + ": code");
                    Assert.Equal("open", d.PolicyName, entry.Key + ": policy name");
                }
                Assert.Contains("params.x", engine.Evaluate(calls["NaN"]).Reason, "reason names the argument");
                Assert.Contains("System.Object", engine.Evaluate(calls["an unknown type"]).Reason, "reason names the type");
                Assert.Contains("\"reason\":\"params.x", engine.Evaluate(calls["NaN"]).Json, "the JSON form carries the same reason");
            }
        }

        [Test]
        public static void A_disposed_engine_throws_ObjectDisposedException()
        {
            Engine engine = NewEngine();
            engine.Dispose();
            engine.Dispose();
            var call = new ToolCall("t", "a1");
            Assert.Throws<ObjectDisposedException>(() => engine.Evaluate(call), "Evaluate(ToolCall)");
            Assert.Throws<ObjectDisposedException>(() => engine.Evaluate("{}"), "Evaluate(string)");
            Assert.Throws<ObjectDisposedException>(() => engine.EvaluateJson("{}"), "EvaluateJson");
            Assert.Throws<ObjectDisposedException>(() => engine.UpdatePolicy(J("{'portcullis': 1, 'name': 'p'}")), "UpdatePolicy");
            Assert.Throws<ObjectDisposedException>(() => engine.Approve(call, TimeSpan.FromMinutes(1)), "Approve");
            Assert.Throws<ObjectDisposedException>(() => engine.ApproveHash("sha256:" + new string('a', 64), TimeSpan.FromMinutes(1)), "ApproveHash");
            Assert.Throws<ObjectDisposedException>(() => engine.SetTime(Start), "SetTime");
            Assert.Throws<ObjectDisposedException>(() => { var unused = engine.Now; }, "Now");
        }

        [Test]
        public static void Evaluate_json_returns_the_decision_object()
        {
            using (var engine = NewEngine())
            {
                string json = engine.EvaluateJson(J("{'tool': 'shell.exec', 'agent': {'id': 'a1'}}"));
                var root = (IDictionary<string, object>)JsonReader.Parse(json);
                Assert.Sequence(
                    new[] { "action_hash", "allowed", "code", "effect", "eval_ns", "matched", "params", "policy", "reason", "retry_after_ms", "rule", "shadow" },
                    root.Keys.OrderBy(k => k, StringComparer.Ordinal), "decision keys");
                Assert.Equal<object>("no-shell", root["rule"], "rule");
            }
        }

        [Test]
        public static void Options_limit_the_keys_per_rate_limit()
        {
            string policy = J("{'portcullis': 1, 'name': 'p', 'default': 'allow', 'rules': [" +
                              "{'id': 'per-agent', 'effect': 'rate_limit', 'limit': {'max': 5, 'window': '1h', 'per': ['agent']}}]}");
            using (var engine = Engine.FromPolicy(policy, new EngineOptions { ManualClockStart = Start, MaxKeysPerLimit = 2 }))
            {
                Assert.Equal(Effect.Allow, engine.Evaluate(new ToolCall("t", "a1")).Effect, "first key");
                Assert.Equal(Effect.Allow, engine.Evaluate(new ToolCall("t", "a2")).Effect, "second key");
                Decision third = engine.Evaluate(new ToolCall("t", "a3"));
                Assert.Equal(DecisionCode.RateLimited, third.Code, "a third key is denied (fail closed)");
            }
            Assert.Throws<ArgumentOutOfRangeException>(() => new EngineOptions { MaxKeysPerLimit = -1 }, "negative key limit");
        }

        [Test]
        public static void Exceptions_derive_from_PortcullisException()
        {
            foreach (var type in new[] { typeof(PolicyException), typeof(InvalidArgumentException), typeof(InvalidActionException), typeof(ClockException), typeof(NativeLibraryException) })
            {
                Assert.True(typeof(PortcullisException).IsAssignableFrom(type), type.Name + " derives from PortcullisException");
            }
        }

        [Test]
        public static void The_native_version_is_the_crate_version()
        {
            string version = Engine.NativeVersion;
            Assert.True(System.Text.RegularExpressions.Regex.IsMatch(version, @"^\d+\.\d+\.\d+"), "a semantic version, got " + version);
        }
    }
}
