using System.Reflection;
using System.Runtime.CompilerServices;

[assembly: AssemblyTitle("Portcullis")]
[assembly: AssemblyDescription("Runtime policy engine for AI agent tool calls: .NET binding over the portcullis C ABI")]
[assembly: AssemblyVersion("0.1.0.0")]
// The unit tests read the live native handle count (NativeHandle.LiveCount).
[assembly: InternalsVisibleTo("Portcullis.Tests")]
