using System;
using System.Collections.Generic;

namespace Portcullis.Tests
{
    /// <summary>ExplainJson: the trace of a decision, and a dry run.</summary>
    internal static class ExplainTests
    {
        private const string Policy = @"{""portcullis"": 1, ""name"": ""x"", ""rules"": [
  {""id"": ""reads"", ""effect"": ""allow"", ""match"": {""tool"": [""fs.read""]}},
  {""id"": ""once"", ""effect"": ""rate_limit"", ""match"": {""tool"": [""fs.read""]}, ""limit"": {""max"": 1, ""window"": ""1m""}}]}";

        private const string Read = @"{""tool"": ""fs.read"", ""agent"": {""id"": ""a1""}}";

        [Test]
        public static void Explain_traces_the_decision_and_uses_no_limit()
        {
            using (var engine = Engine.FromPolicy(Policy))
            {
                for (int i = 0; i < 2; i++)
                {
                    var root = JsonReader.Parse(engine.ExplainJson(Read)) as JsonObject;
                    Assert.True(root != null, "an object");
                    Assert.Equal(true, root["dry_run"], "dry_run");
                    var decision = (JsonObject)root["decision"];
                    Assert.Equal("allow", decision["effect"], "explained effect");
                }
                Assert.Equal(Effect.Allow, engine.Evaluate(Read).Effect, "the limit is still unused");
                Assert.Equal(DecisionCode.RateLimited, engine.Evaluate(Read).Code, "then used");
            }
        }

        [Test]
        public static void Explain_of_a_malformed_action_explains_its_invalid_action_deny()
        {
            using (var engine = Engine.FromPolicy(Policy))
            {
                var root = (JsonObject)JsonReader.Parse(engine.ExplainJson("{\"tool\": 1}"));
                Assert.Equal("invalid_action", ((JsonObject)root["decision"])["code"], "code");
                Assert.Throws<InvalidArgumentException>(() => engine.ExplainJson("\ud800"), "lone surrogate");
                Assert.Throws<ArgumentNullException>(() => engine.ExplainJson(null), "null");
            }
        }
    }
}
