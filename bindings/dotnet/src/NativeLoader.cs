using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Portcullis.Native;

namespace Portcullis
{
    /// <summary>
    /// Finds and checks the native library (<c>libportcullis.so</c>) once, before the first
    /// call into it.
    /// </summary>
    /// <remarks>
    /// The P/Invoke name is <c>portcullis</c>, resolved by the runtime's usual rules (next to
    /// the assembly, <c>runtimes/&lt;rid&gt;/native</c> of a NuGet package, the system library
    /// path). The environment variable <c>PORTCULLIS_NATIVE_LIB</c>, when set, names the library
    /// file to use instead: on Mono through a global dllmap entry
    /// (<c>mono_dllmap_insert</c>), on .NET Core 3.0 and later through a
    /// <c>DllImportResolver</c>. The loaded library's ABI version must have the major version
    /// this binding was generated against and at least its minor version.
    ///
    /// Every path into native code calls <see cref="EnsureLoaded"/> from a method that itself
    /// contains no P/Invoke: Mono binds a P/Invoke when it compiles the method that calls it,
    /// which must happen after the override is in place.
    /// </remarks>
    internal static class NativeLoader
    {
        /// <summary>The environment variable that names the native library file to load.</summary>
        internal const string OverrideVariable = "PORTCULLIS_NATIVE_LIB";

        private const string LibraryName = "portcullis";
        private static readonly object Gate = new object();
        private static volatile bool loaded;
        private static Exception failure;
        private static string version;

        /// <summary>The crate version of the loaded native library.</summary>
        internal static string Version
        {
            get
            {
                EnsureLoaded();
                return version;
            }
        }

        /// <summary>
        /// Loads and checks the native library on first use; afterwards returns at once, or
        /// throws the same error as the first time.
        /// </summary>
        /// <exception cref="NativeLibraryException">The library cannot be loaded or has an incompatible ABI.</exception>
        internal static void EnsureLoaded()
        {
            if (loaded) return;
            lock (Gate)
            {
                if (loaded) return;
                if (failure == null)
                {
                    try
                    {
                        Load();
                        loaded = true;
                        return;
                    }
                    catch (NativeLibraryException e)
                    {
                        failure = e;
                    }
                }
                throw new NativeLibraryException(failure.Message, failure);
            }
        }

        private static void Load()
        {
            string overridePath = Environment.GetEnvironmentVariable(OverrideVariable);
            if (!string.IsNullOrEmpty(overridePath)) InstallOverride(overridePath);

            uint abi;
            try
            {
                abi = ReadAbiVersion();
            }
            catch (DllNotFoundException e)
            {
                throw new NativeLibraryException(
                    "cannot load the portcullis native library (" + LibraryName + ", lib" + LibraryName + ".so on Linux): " +
                    "put it next to Portcullis.dll or on the library search path, or set " + OverrideVariable +
                    " to its full path (" + e.Message + ")", e);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new NativeLibraryException(
                    "the loaded " + LibraryName + " library does not export portcullis_abi_version: it is not the portcullis C ABI (" + e.Message + ")", e);
            }
            CheckAbi(abi);
            version = ReadVersion();
        }

        // Mono binds a P/Invoke when it compiles the calling method, so the first native call
        // lives in a method of its own, compiled only after the override is installed.
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static uint ReadAbiVersion()
        {
            return NativeMethods.portcullis_abi_version();
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static unsafe string ReadVersion()
        {
            return Utf8.FromNulTerminated((IntPtr)NativeMethods.portcullis_version());
        }

        /// <summary>Throws unless <paramref name="abi"/> is compatible with the ABI this binding was generated against.</summary>
        internal static void CheckAbi(uint abi)
        {
            uint major = abi >> 16;
            uint minor = abi & 0xFFFF;
            if (major != NativeMethods.PORTCULLIS_ABI_VERSION_MAJOR || minor < NativeMethods.PORTCULLIS_ABI_VERSION_MINOR)
            {
                throw new NativeLibraryException(
                    "the portcullis native library has ABI version " + major + "." + minor +
                    ", but this Portcullis.dll needs ABI " + NativeMethods.PORTCULLIS_ABI_VERSION_MAJOR + "." +
                    NativeMethods.PORTCULLIS_ABI_VERSION_MINOR + " or a later " + NativeMethods.PORTCULLIS_ABI_VERSION_MAJOR + ".x: use the native library of the same release");
            }
        }

        private static void InstallOverride(string path)
        {
            string fullPath = Path.GetFullPath(path);
            if (!File.Exists(fullPath))
            {
                throw new NativeLibraryException(OverrideVariable + " names " + fullPath + ", which does not exist");
            }
            if (Type.GetType("Mono.Runtime") != null)
            {
                InstallMonoDllMap(fullPath);
                return;
            }
            if (!InstallResolver(fullPath))
            {
                throw new NativeLibraryException(
                    OverrideVariable + " is set, but this runtime offers no way to redirect a DllImport " +
                    "(needs Mono or .NET Core 3.0+): put the library next to Portcullis.dll instead");
            }
        }

        /// <summary>
        /// Maps the DllImport name to <paramref name="fullPath"/> for every assembly, through
        /// the Mono runtime's embedding API (the programmatic form of a config-file dllmap).
        /// </summary>
        private static void InstallMonoDllMap(string fullPath)
        {
            try
            {
                MonoDllMapInsert(IntPtr.Zero, LibraryName, null, fullPath, null);
            }
            catch (Exception e) when (e is EntryPointNotFoundException || e is DllNotFoundException)
            {
                throw new NativeLibraryException(
                    OverrideVariable + " is set, but this Mono host does not export mono_dllmap_insert: " +
                    "add a <dllmap dll=\"" + LibraryName + "\" target=\"" + fullPath + "\"/> entry to Portcullis.dll.config instead", e);
            }
        }

        [DllImport("__Internal", EntryPoint = "mono_dllmap_insert", CallingConvention = CallingConvention.Cdecl)]
        private static extern void MonoDllMapInsert(IntPtr assembly, string dll, string func, string tdll, string tfunc);

        /// <summary>
        /// Registers <c>NativeLibrary.SetDllImportResolver</c> for this assembly on .NET Core 3.0
        /// and later. Reflection keeps the netstandard2.0 build free of the API.
        /// </summary>
        private static bool InstallResolver(string fullPath)
        {
            Type nativeLibrary = Type.GetType("System.Runtime.InteropServices.NativeLibrary");
            Type resolverType = Type.GetType("System.Runtime.InteropServices.DllImportResolver");
            if (nativeLibrary == null || resolverType == null) return false;
            MethodInfo setResolver = nativeLibrary.GetMethod("SetDllImportResolver", new[] { typeof(Assembly), resolverType });
            MethodInfo load = nativeLibrary.GetMethod("Load", new[] { typeof(string) });
            if (setResolver == null || load == null) return false;
            var resolver = new OverrideResolver(fullPath, load);
            Delegate callback = Delegate.CreateDelegate(resolverType, resolver, typeof(OverrideResolver).GetMethod(nameof(OverrideResolver.Resolve)));
            setResolver.Invoke(null, new object[] { typeof(NativeLoader).Assembly, callback });
            return true;
        }

        private sealed class OverrideResolver
        {
            private readonly string fullPath;
            private readonly MethodInfo load;

            internal OverrideResolver(string fullPath, MethodInfo load)
            {
                this.fullPath = fullPath;
                this.load = load;
            }

            public IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
            {
                if (libraryName != LibraryName) return IntPtr.Zero;
                return (IntPtr)load.Invoke(null, new object[] { fullPath });
            }
        }
    }
}
