using System;
using System.Collections;
using System.Collections.Generic;

namespace Portcullis.Tests
{
    /// <summary>Evaluate(ToolCall) with arguments that cannot be enumerated: a deny, never a throw or a hang.</summary>
    internal static class ArgumentEnumerationTests
    {
        private const string Policy = "{\"portcullis\": 1, \"name\": \"enum\", \"default\": \"allow\"}";

        private static IEnumerable<int> Endless()
        {
            for (int i = 0; ; i++) yield return i;
        }

        private static IEnumerable<object> EndlessNested()
        {
            while (true) yield return new object[0];
        }

        private static IEnumerable<string> Throws()
        {
            yield return "rm -rf /";
            throw new InvalidOperationException("enumerator failed");
        }

        private sealed class ThrowingEnumerable : IEnumerable
        {
            public IEnumerator GetEnumerator() { throw new NotSupportedException("no enumerator"); }
        }

        private static Decision Run(object argument)
        {
            using (var engine = Engine.FromPolicy(Policy, new EngineOptions { ManualClockStart = EngineTests.Start }))
            {
                var call = new ToolCall("shell", "a1", new Dictionary<string, object> { { "v", argument } });
                return engine.Evaluate(call);
            }
        }

        private static void AssertInvalid(Decision d, string reasonPart)
        {
            Assert.Equal(Effect.Deny, d.Effect, "effect");
            Assert.Equal(DecisionCode.InvalidAction, d.Code, "code");
            Assert.True(!d.Allowed, "not allowed");
            Assert.Contains(reasonPart, d.Reason, "reason");
        }

        [Test]
        public static void An_endless_enumerable_is_denied_at_the_size_limit()
        {
            AssertInvalid(Run(Endless()), "larger than 1048576 bytes");
        }

        [Test]
        public static void An_endless_enumerable_of_empty_arrays_is_denied()
        {
            AssertInvalid(Run(EndlessNested()), "larger than 1048576 bytes");
        }

        [Test]
        public static void A_throwing_enumerator_is_denied()
        {
            AssertInvalid(Run(Throws()), "enumerator failed");
        }

        [Test]
        public static void A_throwing_GetEnumerator_is_denied()
        {
            AssertInvalid(Run(new ThrowingEnumerable()), "no enumerator");
        }

        [Test]
        public static void A_large_finite_enumerable_within_the_limit_is_decided()
        {
            var d = Run(new List<int>(new int[1000]));
            Assert.Equal(Effect.Allow, d.Effect, "effect");
        }
    }
}
