using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;

namespace Portcullis.Tests
{
    /// <summary>
    /// Finding the native library: next to the assembly, through PORTCULLIS_NATIVE_LIB, and the
    /// errors for a missing library or an incompatible ABI. Each case runs this test program
    /// in a child process (<c>--probe</c>), since a process loads the library only once.
    /// </summary>
    internal static class LoaderTests
    {
        private static string BuildDir => AppDomain.CurrentDomain.BaseDirectory;

        /// <summary>The child side: create an engine, evaluate, print the outcome.</summary>
        internal static int Probe()
        {
            try
            {
                using (var engine = Engine.FromPolicy("{\"portcullis\": 1, \"name\": \"probe\", \"default\": \"allow\"}"))
                {
                    Decision d = engine.Evaluate(new ToolCall("t", "a1"));
                    Console.WriteLine("ok " + Engine.NativeVersion + " " + d.Effect);
                    return 0;
                }
            }
            catch (Exception e)
            {
                Console.WriteLine("error " + e.GetType().Name + ": " + e.Message);
                // A second attempt reports the same error, not a TypeInitializationException.
                try
                {
                    Engine.FromPolicy("{}");
                }
                catch (Exception again)
                {
                    Console.WriteLine("again " + again.GetType().Name);
                }
                return 1;
            }
        }

        private static string RunProbe(string exeDir, string overridePath, string libraryPath = null)
        {
            var start = new ProcessStartInfo("mono", "\"" + Path.Combine(exeDir, "Portcullis.Tests.exe") + "\" --probe")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = exeDir,
            };
            start.EnvironmentVariables.Remove("LD_LIBRARY_PATH");
            start.EnvironmentVariables.Remove("MONO_PATH");
            start.EnvironmentVariables.Remove("PORTCULLIS_NATIVE_LIB");
            if (overridePath != null) start.EnvironmentVariables["PORTCULLIS_NATIVE_LIB"] = overridePath;
            if (libraryPath != null) start.EnvironmentVariables["LD_LIBRARY_PATH"] = libraryPath;
            using (Process child = Process.Start(start))
            {
                string output = child.StandardOutput.ReadToEnd();
                string errors = child.StandardError.ReadToEnd();
                if (!child.WaitForExit(60000)) throw new AssertionException("probe did not finish");
                return (output + errors).Trim();
            }
        }

        /// <summary>A directory with the managed assemblies only: no native library beside them.</summary>
        private static string BareCopy()
        {
            string dir = Path.Combine(Path.GetTempPath(), "portcullis-loader-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            foreach (string name in new[] { "Portcullis.dll", "Portcullis.Tests.exe" })
            {
                File.Copy(Path.Combine(BuildDir, name), Path.Combine(dir, name));
            }
            return dir;
        }

        private static string RealLibrary
        {
            get
            {
                string path = Path.Combine(BuildDir, "libportcullis.so");
                Assert.True(File.Exists(path), "the native library is next to the tests: " + path);
                return path;
            }
        }

        [Test]
        public static void The_library_next_to_the_assembly_is_found()
        {
            Assert.True(File.Exists(RealLibrary), "library present");
            Assert.Contains("ok ", RunProbe(BuildDir, null), "probe");
        }

        [Test]
        public static void The_override_loads_a_library_the_search_cannot_find()
        {
            string dir = BareCopy();
            try
            {
                string hidden = Path.Combine(dir, "elsewhere", "custom-name.so");
                Directory.CreateDirectory(Path.GetDirectoryName(hidden));
                File.Copy(RealLibrary, hidden);
                Assert.Contains("ok ", RunProbe(dir, hidden), "probe with PORTCULLIS_NATIVE_LIB");
                string relative = Path.Combine("elsewhere", "custom-name.so");
                Assert.Contains("ok ", RunProbe(dir, relative), "a relative override is taken from the working directory");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public static void The_library_is_found_on_the_library_path()
        {
            string dir = BareCopy();
            try
            {
                string libDir = Path.Combine(dir, "lib");
                Directory.CreateDirectory(libDir);
                File.Copy(RealLibrary, Path.Combine(libDir, "libportcullis.so"));
                Assert.Contains("ok ", RunProbe(dir, null, libDir), "probe with LD_LIBRARY_PATH");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public static void A_missing_library_gives_a_clear_error()
        {
            string dir = BareCopy();
            try
            {
                string output = RunProbe(dir, null);
                Assert.Contains("error NativeLibraryException: cannot load the portcullis native library", output, "probe");
                Assert.Contains("PORTCULLIS_NATIVE_LIB", output, "the message names the override");
                Assert.Contains("again NativeLibraryException", output, "the second attempt");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public static void An_override_to_a_missing_file_gives_a_clear_error()
        {
            string output = RunProbe(BuildDir, "/nonexistent/libportcullis.so");
            Assert.Contains("error NativeLibraryException: PORTCULLIS_NATIVE_LIB names /nonexistent/libportcullis.so, which does not exist", output, "probe");
        }

        [Test]
        public static void An_incompatible_abi_is_refused_even_with_a_good_library_beside_the_assembly()
        {
            string fake = Path.Combine(BuildDir, "fake-abi", "libportcullis.so");
            Assert.True(File.Exists(fake), "the ABI 3.0 test library was built: " + fake);
            string output = RunProbe(BuildDir, fake);
            Assert.Contains("error NativeLibraryException: the portcullis native library has ABI version 3.0, but this Portcullis.dll needs ABI 2.2", output, "probe");
        }

        [Test]
        public static void Abi_versions_are_compared_by_major_and_minimum_minor()
        {
            NativeLoader.CheckAbi(0x20002);
            NativeLoader.CheckAbi(0x20007);
            // 2.1 has no portcullis_engine_evaluate_details, which Evaluate calls.
            Assert.Throws<NativeLibraryException>(() => NativeLoader.CheckAbi(0x20001), "minor 1");
            // 2.0 has no EngineOptions.StateUrl: it would keep shared state in process.
            Assert.Throws<NativeLibraryException>(() => NativeLoader.CheckAbi(0x20000), "minor 0");
            // 1.x is the ABI before the rename: other symbol names.
            Assert.Throws<NativeLibraryException>(() => NativeLoader.CheckAbi(0x10001), "major 1");
            Assert.Throws<NativeLibraryException>(() => NativeLoader.CheckAbi(0x30000), "major 3");
            Assert.Throws<NativeLibraryException>(() => NativeLoader.CheckAbi(0x00009), "major 0");
        }
    }
}
