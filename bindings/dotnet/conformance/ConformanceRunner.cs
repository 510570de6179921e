using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace Portcullis.Conformance
{
    /// <summary>
    /// Replays the conformance cases (tests/conformance, or PORTCULLIS_CONFORMANCE_DIR,
    /// recursively) through the public API of Portcullis.dll. Prints one line per failing case
    /// and ends with "N passed, M failed"; exits non-zero when a case failed or none ran.
    /// </summary>
    internal static class ConformanceRunner
    {
        private static readonly DateTimeOffset DefaultClock = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        private static int Main(string[] args)
        {
            string dir = Environment.GetEnvironmentVariable("PORTCULLIS_CONFORMANCE_DIR");
            if (string.IsNullOrEmpty(dir)) dir = args.Length > 0 ? args[0] : "tests/conformance";
            if (!Directory.Exists(dir))
            {
                Console.WriteLine("no conformance directory " + dir);
                Console.WriteLine("0 passed, 0 failed");
                return 1;
            }

            int passed = 0, failed = 0;
            var files = Directory.GetFiles(dir, "*.json", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal);
            foreach (string file in files)
            {
                List<object> cases;
                try
                {
                    object document = JsonReader.Parse(File.ReadAllText(file), JsonNumbers.Preserve);
                    cases = document as List<object> ?? new List<object> { document };
                }
                catch (Exception e) when (e is IOException || e is FormatException)
                {
                    failed++;
                    Console.WriteLine("FAIL " + file + ": cannot read the case file: " + e.Message);
                    continue;
                }
                for (int i = 0; i < cases.Count; i++)
                {
                    string where = cases.Count > 1 ? file + " case " + i : file;
                    string failure = RunCase(cases[i]);
                    if (failure == null)
                    {
                        passed++;
                    }
                    else
                    {
                        failed++;
                        Console.WriteLine("FAIL " + where + ": " + failure);
                    }
                }
            }
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed > 0 || passed == 0 ? 1 : 0;
        }

        /// <summary>Runs one case; returns null when it passes, otherwise what failed (with the step index).</summary>
        private static string RunCase(object value)
        {
            var spec = value as JsonObject;
            if (spec == null) return "a case must be an object";
            string name = spec.TryGetValue("name", out value) ? value as string : null;
            string prefix = name == null ? "" : "\"" + name + "\": ";
            try
            {
                return Run(spec, prefix);
            }
            catch (CaseException e)
            {
                return prefix + e.Message;
            }
            catch (Exception e)
            {
                return prefix + "unexpected " + e.GetType().Name + ": " + e.Message;
            }
        }

        private static string Run(JsonObject spec, string prefix)
        {
            Known(spec, "case", "name", "description", "policy", "policy_raw", "clock", "steps", "expect_error");
            string policy = PolicyText(spec, "policy", "policy_raw", "case");
            DateTimeOffset clock = spec.ContainsKey("clock") ? Time(Get<string>(spec, "clock", "case")) : DefaultClock;
            var options = new EngineOptions { ManualClockStart = clock };

            if (spec.ContainsKey("expect_error"))
            {
                if (spec.ContainsKey("steps")) throw new CaseException("a case with expect_error has no steps");
                try
                {
                    Engine.FromPolicy(policy, options).Dispose();
                }
                catch (PolicyException e)
                {
                    CheckError(Get<JsonObject>(spec, "expect_error", "case"), e, "policy");
                    return null;
                }
                throw new CaseException("the policy loaded, but expect_error says it must be rejected");
            }

            List<object> steps = Get<List<object>>(spec, "steps", "case");
            Engine engine;
            try
            {
                engine = Engine.FromPolicy(policy, options);
            }
            catch (PolicyException e)
            {
                throw new CaseException("the policy did not load: " + e.Message);
            }
            using (engine)
            {
                for (int i = 0; i < steps.Count; i++)
                {
                    try
                    {
                        RunStep(engine, steps[i] as JsonObject);
                    }
                    catch (CaseException e)
                    {
                        throw new CaseException("step " + i + ": " + e.Message);
                    }
                    catch (PortcullisException e)
                    {
                        throw new CaseException("step " + i + ": unexpected " + e.GetType().Name + ": " + e.Message);
                    }
                }
            }
            return null;
        }

        private static void RunStep(Engine engine, JsonObject step)
        {
            if (step == null) throw new CaseException("a step must be an object");
            Known(step, "step", "eval", "eval_raw", "expect", "advance_ms", "set_clock", "approve", "ttl_ms", "uses",
                  "update_policy", "update_policy_raw", "expect_error");
            string[] actions = { "eval", "eval_raw", "advance_ms", "set_clock", "approve", "update_policy", "update_policy_raw" };
            var present = actions.Where(step.ContainsKey).ToList();
            if (present.Count != 1) throw new CaseException("a step needs exactly one of " + string.Join(", ", actions));

            switch (present[0])
            {
                case "eval":
                case "eval_raw":
                    string action = present[0] == "eval" ? JsonWriter.Write(step["eval"]) : Get<string>(step, "eval_raw", "step");
                    Decision decision = engine.Evaluate(action);
                    if (step.ContainsKey("expect")) CheckDecision(Get<JsonObject>(step, "expect", "step"), decision);
                    break;
                case "advance_ms":
                    engine.SetTime(engine.Now.AddMilliseconds(Number(step["advance_ms"], "advance_ms")));
                    break;
                case "set_clock":
                    engine.SetTime(Time(Get<string>(step, "set_clock", "step")));
                    break;
                case "approve":
                    Approve(engine, step);
                    break;
                default:
                    string policy = PolicyText(step, "update_policy", "update_policy_raw", "step");
                    if (!step.ContainsKey("expect_error"))
                    {
                        engine.UpdatePolicy(policy);
                        break;
                    }
                    try
                    {
                        engine.UpdatePolicy(policy);
                    }
                    catch (PolicyException e)
                    {
                        CheckError(Get<JsonObject>(step, "expect_error", "step"), e, "update");
                        break;
                    }
                    throw new CaseException("the update was accepted, but expect_error says it must be rejected");
            }
        }

        private static void Approve(Engine engine, JsonObject step)
        {
            double ttl = step.ContainsKey("ttl_ms") ? Number(step["ttl_ms"], "ttl_ms") : 0;
            double uses = step.ContainsKey("uses") ? Number(step["uses"], "uses") : 1;
            if (ttl < 0 || ttl > TimeSpan.MaxValue.TotalMilliseconds || uses > int.MaxValue || uses < int.MinValue)
            {
                throw new CaseException("ttl_ms or uses is out of the range this runner can pass");
            }
            string action = JsonWriter.Write(step["approve"]);
            try
            {
                engine.Approve(action, TimeSpan.FromTicks((long)ttl * TimeSpan.TicksPerMillisecond), (int)uses);
            }
            catch (PortcullisException e)
            {
                if (!step.ContainsKey("expect_error")) throw new CaseException("approve failed: " + e.GetType().Name + ": " + e.Message);
                var expected = Get<JsonObject>(step, "expect_error", "step");
                if (expected.ContainsKey("contains")) ExpectContains(Get<string>(expected, "contains", "expect_error"), e.Message, "approve error");
                return;
            }
            if (step.ContainsKey("expect_error")) throw new CaseException("the approval was accepted, but expect_error says it must fail");
        }

        private static void CheckError(JsonObject expected, PolicyException error, string what)
        {
            Known(expected, "expect_error", "path", "contains");
            if (expected.ContainsKey("path"))
            {
                string path = Get<string>(expected, "path", "expect_error");
                if (path != error.Path) throw new CaseException(what + " error path: expected \"" + path + "\", got \"" + error.Path + "\" (" + error.Detail + ")");
            }
            if (expected.ContainsKey("contains"))
            {
                ExpectContains(Get<string>(expected, "contains", "expect_error"), error.Detail, what + " error message");
            }
        }

        private static void CheckDecision(JsonObject expect, Decision d)
        {
            foreach (var entry in expect)
            {
                object want = entry.Value;
                switch (entry.Key)
                {
                    case "effect":
                        Expect(want, d.Effect.WireName(), "effect", d);
                        break;
                    case "allowed":
                        Expect(want, d.Allowed, "allowed", d);
                        break;
                    case "code":
                        Expect(want, d.Code.WireName(), "code", d);
                        break;
                    case "rule":
                        Expect(want, d.Rule, "rule", d);
                        break;
                    case "reason":
                        Expect(want, d.Reason, "reason", d);
                        break;
                    case "reason_contains":
                        ExpectContains(Cast<string>(want, "reason_contains"), d.Reason, "reason");
                        break;
                    case "matched":
                        Expect(want, d.Matched.Cast<object>().ToList(), "matched", d);
                        break;
                    case "shadow":
                        var shadow = d.Shadow.Select(hit => (object)new JsonObject { { "rule", hit.Rule }, { "effect", hit.Effect.WireName() } }).ToList();
                        Expect(want, shadow, "shadow", d);
                        break;
                    case "params":
                        Expect(want, d.Params, "params", d);
                        break;
                    case "retry_after_ms":
                        Expect(want, d.RetryAfterMs, "retry_after_ms", d);
                        break;
                    case "action_hash":
                        Expect(want, d.ActionHash, "action_hash", d);
                        break;
                    case "policy":
                        var policy = Cast<JsonObject>(want, "policy");
                        Known(policy, "expect.policy", "name", "version");
                        if (policy.ContainsKey("name")) Expect(policy["name"], d.PolicyName, "policy.name", d);
                        if (policy.ContainsKey("version")) Expect(policy["version"], d.PolicyVersion, "policy.version", d);
                        break;
                    default:
                        throw new CaseException("unknown expect key \"" + entry.Key + "\"");
                }
            }
        }

        private static void Expect(object want, object got, string what, Decision d)
        {
            if (!JsonEquals(want, got))
            {
                throw new CaseException(what + ": expected " + Show(want) + ", got " + Show(got) + " (decision " + d.Json + ")");
            }
        }

        private static void ExpectContains(string part, string text, string what)
        {
            if (text == null || text.IndexOf(part, StringComparison.Ordinal) < 0)
            {
                throw new CaseException(what + ": expected it to contain \"" + part + "\", got \"" + text + "\"");
            }
        }

        /// <summary>Structural equality of JSON values; numbers compare as doubles (1 equals 1.0).</summary>
        private static bool JsonEquals(object a, object b)
        {
            if (a == null || b == null) return a == null && b == null;
            double x, y;
            if (TryDouble(a, out x) && TryDouble(b, out y)) return x == y;
            var sa = a as string;
            if (sa != null) return sa == (b as string);
            if (a is bool) return b is bool && (bool)a == (bool)b;
            var oa = a as IDictionary<string, object>;
            if (oa != null)
            {
                var ob = b as IDictionary<string, object>;
                if (ob == null || ob.Count != oa.Count) return false;
                foreach (var entry in oa)
                {
                    object other;
                    if (!ob.TryGetValue(entry.Key, out other) || !JsonEquals(entry.Value, other)) return false;
                }
                return true;
            }
            var la = a as IList<object>;
            if (la != null)
            {
                var lb = b as IList<object>;
                if (lb == null || lb.Count != la.Count) return false;
                for (int i = 0; i < la.Count; i++)
                {
                    if (!JsonEquals(la[i], lb[i])) return false;
                }
                return true;
            }
            return false;
        }

        private static bool TryDouble(object value, out double result)
        {
            var number = value as JsonNumber;
            if (number != null) return JsonNumber.TryParseDouble(number.Text, out result);
            if (value is long)
            {
                result = (long)value;
                return true;
            }
            if (value is double)
            {
                result = (double)value;
                return true;
            }
            result = 0;
            return false;
        }

        private static string Show(object value)
        {
            try
            {
                return JsonWriter.Write(value);
            }
            catch (UnrepresentableValueException)
            {
                return value.ToString();
            }
        }

        private static string PolicyText(JsonObject holder, string valueKey, string rawKey, string where)
        {
            bool hasValue = holder.ContainsKey(valueKey), hasRaw = holder.ContainsKey(rawKey);
            if (hasValue == hasRaw) throw new CaseException("a " + where + " needs exactly one of " + valueKey + ", " + rawKey);
            return hasValue ? JsonWriter.Write(holder[valueKey]) : Get<string>(holder, rawKey, where);
        }

        private static DateTimeOffset Time(string rfc3339)
        {
            DateTimeOffset time;
            if (!DateTimeOffset.TryParse(rfc3339, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time))
            {
                throw new CaseException("not an RFC 3339 time: \"" + rfc3339 + "\"");
            }
            return time;
        }

        private static double Number(object value, string what)
        {
            double result;
            if (!TryDouble(value, out result)) throw new CaseException(what + " must be a number");
            return result;
        }

        private static T Get<T>(JsonObject holder, string key, string where) where T : class
        {
            object value;
            if (!holder.TryGetValue(key, out value)) throw new CaseException("the " + where + " lacks \"" + key + "\"");
            return Cast<T>(value, key);
        }

        private static T Cast<T>(object value, string key) where T : class
        {
            var typed = value as T;
            if (typed == null) throw new CaseException("\"" + key + "\" has the wrong type");
            return typed;
        }

        /// <summary>Rejects keys this runner does not know, so a misspelt expectation cannot pass silently.</summary>
        private static void Known(JsonObject holder, string where, params string[] keys)
        {
            foreach (string key in holder.Keys)
            {
                if (Array.IndexOf(keys, key) < 0) throw new CaseException("unknown key \"" + key + "\" in a " + where);
            }
        }

        private sealed class CaseException : Exception
        {
            internal CaseException(string message) : base(message)
            {
            }
        }
    }
}
