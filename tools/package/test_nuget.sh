#!/usr/bin/env bash
# Installs Portcullis from a local feed folder holding only dist/nuget/*.nupkg into a fresh app
# folder outside the repository, compiles the app with mcs against lib/netstandard2.0, applies
# build/Portcullis.targets (copies the native library beside the app, as MSBuild does), and runs
# it on Mono with no PORTCULLIS_NATIVE_LIB and no LD_LIBRARY_PATH.
# The install uses the nuget CLI (Debian's `nuget` package) when it is there; without it the
# package is unzipped into the same layout (the manual install docs/packaging.md describes).
#   test_nuget.sh DIST_NUGET VERSION
set -euo pipefail
dist=$1 version=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/feed" "$tmp/app/packages"
cp "$dist/Portcullis.$version.nupkg" "$tmp/feed/"
cd "$tmp/app"
pkg=packages/Portcullis.$version
if command -v nuget >/dev/null; then
  HOME=$tmp nuget install Portcullis -Version "$version" -Source "$tmp/feed" -OutputDirectory packages -NonInteractive >/dev/null
  echo "ok   nuget install Portcullis $version from a local feed folder"
else
  mkdir -p "$pkg" && (cd "$pkg" && unzip -q "$tmp/feed/Portcullis.$version.nupkg")
  echo "ok   Portcullis $version unzipped from the local feed (no nuget CLI on this machine)"
fi
for f in lib/netstandard2.0/Portcullis.dll runtimes/linux-x64/native/libportcullis.so build/Portcullis.targets; do
  [ -f "$pkg/$f" ] || { echo "FAIL: the package has no $f"; exit 1; }
done
cat > App.cs <<'CS'
using System;
using Portcullis;

public static class App
{
    const string Policy = "{\"portcullis\": 1, \"name\": \"package-test\", \"default\": \"deny\", " +
        "\"agents\": [{\"id\": \"a\", \"roles\": [\"reader\"]}], " +
        "\"rules\": [{\"id\": \"allow-read\", \"effect\": \"allow\", \"match\": {\"tool\": [\"fs.read\"], \"role\": [\"reader\"]}}]}";

    public static int Main()
    {
        using (var engine = Engine.FromPolicy(Policy))
        {
            var read = engine.Evaluate("{\"tool\": \"fs.read\", \"agent\": {\"id\": \"a\"}}");
            var exec = engine.Evaluate("{\"tool\": \"shell.exec\", \"agent\": {\"id\": \"a\"}}");
            if (!read.Allowed || exec.Allowed) { Console.WriteLine("FAIL: unexpected decisions"); return 1; }
            Console.WriteLine("ok   .NET on Mono: fs.read " + read.Effect + ", shell.exec " + exec.Effect);
        }
        return 0;
    }
}
CS
mkdir out
mcs -nologo -target:exe -r:"$pkg/lib/netstandard2.0/Portcullis.dll" -out:out/App.exe App.cs
cp "$pkg/lib/netstandard2.0/Portcullis.dll" out/
# What build/Portcullis.targets does: its <None Include> names the file, its <Link> the name
# beside the app.
src=$(sed -n 's|.*<None Include="$(MSBuildThisFileDirectory)\([^"]*\)".*|\1|p' "$pkg/build/Portcullis.targets")
link=$(sed -n 's|.*<Link>\(.*\)</Link>.*|\1|p' "$pkg/build/Portcullis.targets")
cp "$pkg/build/$src" "out/$link"
env -u PORTCULLIS_NATIVE_LIB -u LD_LIBRARY_PATH mono out/App.exe
