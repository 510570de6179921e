using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;

namespace Portcullis.Tests
{
    /// <summary>Marks a public static method as a unit test.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class TestAttribute : Attribute
    {
    }

    /// <summary>A failed expectation.</summary>
    internal sealed class AssertionException : Exception
    {
        internal AssertionException(string message) : base(message)
        {
        }
    }

    /// <summary>Expectations with messages that show both sides.</summary>
    internal static class Assert
    {
        internal static void True(bool condition, string what)
        {
            if (!condition) throw new AssertionException("expected: " + what);
        }

        internal static void Equal<T>(T expected, T actual, string what = "value")
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
            {
                throw new AssertionException(what + ": expected <" + Show(expected) + "> but got <" + Show(actual) + ">");
            }
        }

        internal static void Sequence<T>(IEnumerable<T> expected, IEnumerable<T> actual, string what = "sequence")
        {
            if (actual == null || !expected.SequenceEqual(actual))
            {
                throw new AssertionException(what + ": expected [" + string.Join(", ", expected) + "] but got [" +
                                             (actual == null ? "null" : string.Join(", ", actual)) + "]");
            }
        }

        internal static void Contains(string expectedPart, string actual, string what = "text")
        {
            if (actual == null || actual.IndexOf(expectedPart, StringComparison.Ordinal) < 0)
            {
                throw new AssertionException(what + ": expected to contain <" + expectedPart + "> but was <" + Show(actual) + ">");
            }
        }

        internal static T Throws<T>(Action action, string what) where T : Exception
        {
            try
            {
                action();
            }
            catch (T e)
            {
                if (e.GetType() != typeof(T)) throw new AssertionException(what + ": expected " + typeof(T).Name + " but got " + e.GetType().Name + ": " + e.Message);
                return e;
            }
            catch (Exception e)
            {
                throw new AssertionException(what + ": expected " + typeof(T).Name + " but got " + e.GetType().Name + ": " + e.Message);
            }
            throw new AssertionException(what + ": expected " + typeof(T).Name + " but nothing was thrown");
        }

        internal static string Show(object value)
        {
            if (value == null) return "null";
            var text = value as string;
            if (text != null) return "\"" + text + "\"";
            if (value is IDictionary<string, object> || (value is IEnumerable && !(value is string)))
            {
                try
                {
                    return JsonWriter.Write(value);
                }
                catch (UnrepresentableValueException)
                {
                }
            }
            return value + " (" + value.GetType().Name + ")";
        }
    }

    /// <summary>Runs every [Test] method of this assembly, or those whose name contains an argument.</summary>
    internal static class TestRunner
    {
        private static int Main(string[] args)
        {
            if (args.Length > 0 && args[0] == "--probe") return LoaderTests.Probe();

            var tests = typeof(TestRunner).Assembly.GetTypes()
                .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
                .Where(m => m.GetCustomAttributes(typeof(TestAttribute), false).Length > 0)
                .Where(m => args.Length == 0 || args.Any(a => (m.DeclaringType.Name + "." + m.Name).Contains(a)))
                .OrderBy(m => m.DeclaringType.Name).ThenBy(m => m.Name)
                .ToList();
            int passed = 0, failed = 0;
            foreach (MethodInfo test in tests)
            {
                string name = test.DeclaringType.Name + "." + test.Name;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                try
                {
                    test.Invoke(null, null);
                    passed++;
                    if (clock.Elapsed.TotalSeconds > 5) Console.WriteLine("  (" + name + " took " + clock.Elapsed.TotalSeconds.ToString("F1") + " s)");
                }
                catch (TargetInvocationException e)
                {
                    failed++;
                    Exception cause = e.InnerException ?? e;
                    string detail = cause is AssertionException ? cause.Message : cause.GetType().Name + ": " + cause.Message + "\n" + cause.StackTrace;
                    Console.WriteLine("FAIL " + name + ": " + detail);
                }
            }
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed > 0 || passed == 0 ? 1 : 0;
        }
    }
}
