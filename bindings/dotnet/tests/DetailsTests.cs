using System;
using System.Linq;
using System.Text.RegularExpressions;

namespace Portcullis.Tests
{
    /// <summary>
    /// Evaluate reads the plain struct of portcullis_engine_evaluate_details; EvaluateJson gives
    /// the engine's JSON text; EvaluateVerdict the plain verdict. All three must tell the same.
    /// </summary>
    internal static class DetailsTests
    {
        private const string Policy = @"{'portcullis': 1, 'name': 'details-test', 'version': '3.1', 'default': 'deny',
          'rules': [
            {'id': 'reads', 'effect': 'allow', 'match': {'tool': ['fs.read', 'search']}, 'reason': 'reads\nare \""fine\"" \u00e9 \u0001'},
            {'id': 'search-cap', 'effect': 'allow', 'match': {'tool': ['search']},
             'modify': {'clamp': {'params.limit': {'max': 10}}}},
            {'id': 'search-2', 'effect': 'rate_limit', 'match': {'tool': ['search']}, 'limit': {'max': 2, 'window': '10s'}},
            {'id': 'no-secrets', 'effect': 'deny', 'match': {'tool': ['fs.read']},
             'when': {'field': 'params.path', 'prefix': '/secrets'}},
            {'id': 'pay-review', 'effect': 'require_approval', 'match': {'tool': ['pay']}},
            {'id': 'watch-reads', 'effect': 'deny', 'shadow': true, 'match': {'tool': ['fs.*']}},
            {'id': 'watch-pay', 'effect': 'require_approval', 'shadow': true, 'match': {'tool': ['pay']}},
            {'id': 'watch-search', 'effect': 'rate_limit', 'shadow': true, 'match': {'tool': ['search']},
             'limit': {'max': 1, 'window': '1h'}}]}";

        private static string WithoutTime(string json)
        {
            return Regex.Replace(json, ",\"eval_ns\":[0-9]+", "");
        }

        [Test]
        public static void Evaluate_EvaluateJson_and_EvaluateVerdict_agree_field_by_field()
        {
            string pay = EngineTests.J("{'tool': 'pay', 'agent': {'id': 'a1'}, 'params': {'amount': 3}}");
            string[] steps =
            {
                EngineTests.J("{'tool': 'fs.read', 'agent': {'id': 'a1'}, 'params': {'path': '/tmp/x'}}"),
                EngineTests.J("{'tool': 'fs.read', 'agent': {'id': 'a1'}, 'params': {'path': '/secrets/k'}}"),
                EngineTests.J("{'tool': 'search', 'agent': {'id': 'a1'}, 'params': {'limit': 500, 'q': '\u00e9\\t', 'n': 12345678901234567890, 'f': 1.5e300}}"),
                EngineTests.J("{'tool': 'search', 'agent': {'id': 'a1'}, 'params': {'limit': 5}}"),
                EngineTests.J("{'tool': 'search', 'agent': {'id': 'a1'}, 'params': {'limit': 5}}"),
                pay,
                "approve",
                pay,
                EngineTests.J("{'tool': 'shell', 'agent': {'id': 'a1'}}"),
                EngineTests.J("{'tool': 5, 'agent': {'id': 'a1'}}"),
                "not json",
            };
            string policy = EngineTests.J(Policy);
            var options = new EngineOptions { ManualClockStart = EngineTests.Start };
            using (Engine byDetails = Engine.FromPolicy(policy, options))
            using (Engine byJson = Engine.FromPolicy(policy, options))
            using (Engine byVerdict = Engine.FromPolicy(policy, options))
            {
                var codes = new System.Collections.Generic.List<DecisionCode>();
                foreach (string step in steps)
                {
                    if (step == "approve")
                    {
                        foreach (Engine e in new[] { byDetails, byJson, byVerdict }) e.Approve(pay, TimeSpan.FromMinutes(1));
                        continue;
                    }
                    Decision got = byDetails.Evaluate(step);
                    string text = byJson.EvaluateJson(step);
                    Verdict verdict = byVerdict.EvaluateVerdict(step);
                    Decision want = Decision.FromJson(text);
                    codes.Add(got.Code);
                    Assert.Equal(WithoutTime(text), WithoutTime(got.Json), step + ": the JSON form");
                    Assert.Equal(want.Effect, got.Effect, step + ": effect");
                    Assert.Equal(want.Allowed, got.Allowed, step + ": allowed");
                    Assert.Equal(want.Code, got.Code, step + ": code");
                    Assert.Equal(want.Rule, got.Rule, step + ": rule");
                    Assert.Equal(want.Reason, got.Reason, step + ": reason");
                    Assert.Sequence(want.Matched, got.Matched, step + ": matched");
                    Assert.Sequence(want.Shadow.Select(h => h.ToString()), got.Shadow.Select(h => h.ToString()), step + ": shadow");
                    Assert.Equal(want.Params == null ? null : JsonWriter.Write(want.Params), got.Params == null ? null : JsonWriter.Write(got.Params), step + ": params");
                    Assert.Equal(want.RetryAfterMs, got.RetryAfterMs, step + ": retry_after_ms");
                    Assert.Equal(want.ActionHash, got.ActionHash, step + ": action hash");
                    Assert.Equal(want.PolicyName, got.PolicyName, step + ": policy name");
                    Assert.Equal(want.PolicyVersion, got.PolicyVersion, step + ": policy version");

                    Assert.Equal(want.Effect, verdict.Effect, step + ": verdict effect");
                    Assert.Equal(want.Allowed, verdict.Allowed, step + ": verdict allowed");
                    Assert.Equal(want.Code, verdict.Code, step + ": verdict code");
                    Assert.Equal(want.Rule, verdict.Rule, step + ": verdict rule");
                    Assert.Equal(want.RetryAfterMs, verdict.RetryAfterMs, step + ": verdict retry_after_ms");
                    Assert.Equal(want.Params != null, verdict.ParamsModified, step + ": verdict params modified");
                    Assert.Equal(want.Matched.Count, verdict.MatchedCount, step + ": verdict matched count");
                    Assert.Equal(want.Shadow.Count, verdict.ShadowCount, step + ": verdict shadow count");
                }
                Assert.Sequence(new[]
                {
                    DecisionCode.Rule, DecisionCode.Rule, DecisionCode.Rule, DecisionCode.Rule, DecisionCode.RateLimited,
                    DecisionCode.ApprovalRequired, DecisionCode.Approved, DecisionCode.Default, DecisionCode.InvalidAction,
                    DecisionCode.InvalidAction,
                }, codes, "the steps decide as expected");
            }
        }

        [Test]
        public static void A_verdict_of_a_call_with_no_json_form_is_an_invalid_action()
        {
            using (var engine = EngineTests.NewEngine())
            {
                var call = new ToolCall("search.web", "a1", new System.Collections.Generic.Dictionary<string, object> { { "x", double.NaN } });
                Verdict v = engine.EvaluateVerdict(call);
                Assert.Equal(DecisionCode.InvalidAction, v.Code, "code");
                Assert.Equal(false, v.Allowed, "allowed");
                Verdict ok = engine.EvaluateVerdict(new ToolCall("shell.exec", "a1"));
                Assert.Equal("deny (rule no-shell)", ok.ToString(), "verdict of a deny rule");
                engine.Dispose();
                Assert.Throws<ObjectDisposedException>(() => engine.EvaluateVerdict(new ToolCall("shell.exec", "a1")), "after Dispose");
            }
        }

        [Test]
        public static void Policy_names_follow_an_update()
        {
            using (var engine = Engine.FromPolicy(EngineTests.J("{'portcullis': 1, 'name': 'one', 'version': '1'}")))
            {
                string action = EngineTests.J("{'tool': 't', 'agent': {'id': 'a'}}");
                Assert.Equal("one", engine.Evaluate(action).PolicyName, "name");
                Assert.Equal("1", engine.Evaluate(action).PolicyVersion, "version");
                engine.UpdatePolicy(EngineTests.J("{'portcullis': 1, 'name': 'two'}"));
                Decision d = engine.Evaluate(action);
                Assert.Equal("two", d.PolicyName, "name after the update");
                Assert.Equal(null, d.PolicyVersion, "no version after the update");
            }
        }
    }
}
