#!/usr/bin/env python3
"""Writes OUT/Portcullis.VERSION.nupkg (a nupkg is an OPC zip with a .nuspec) without the nuget
CLI: lib/netstandard2.0/Portcullis.{dll,xml}, runtimes/linux-x64/native/libportcullis.so, and
build/ + buildTransitive/Portcullis.targets, which copy the native library beside the
application on hosts that do not read runtimes/ (Mono, .NET Framework-style builds).

Usage: nuget.py VERSION DLL XMLDOC NATIVE_SO README LICENSE OUT
"""
import os
import sys
import zipfile

STAMP = (2026, 1, 1, 0, 0, 0)

NUSPEC = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>Portcullis</id>
    <version>{version}</version>
    <authors>portcullis</authors>
    <description>Deterministic, fail-closed runtime policy engine for AI agent tool calls: allow, deny, require approval, rewrite parameters or rate-limit each call before it runs.</description>
    <license type="expression">Apache-2.0</license>
    <projectUrl>https://github.com/portcullis/portcullis</projectUrl>
    <repository type="git" url="https://github.com/portcullis/portcullis" />
    <readme>README.md</readme>
    <tags>ai agents policy security guardrails</tags>
    <dependencies>
      <group targetFramework=".NETStandard2.0" />
    </dependencies>
  </metadata>
</package>
"""

TARGETS = """<?xml version="1.0" encoding="utf-8"?>
<!-- Copies the native library next to the application's output, where Mono and .NET
     Framework-style hosts look for DllImport("portcullis"). (.NET Core-style hosts use
     runtimes/linux-x64/native directly.) -->
<Project xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <ItemGroup Condition="'$(OS)' != 'Windows_NT'">
    <None Include="$(MSBuildThisFileDirectory)../runtimes/linux-x64/native/libportcullis.so">
      <Link>libportcullis.so</Link>
      <CopyToOutputDirectory>PreserveNewest</CopyToOutputDirectory>
      <Visible>false</Visible>
    </None>
  </ItemGroup>
</Project>
"""

CONTENT_TYPES = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />
  <Default Extension="nuspec" ContentType="application/octet" />
  <Default Extension="dll" ContentType="application/octet" />
  <Default Extension="xml" ContentType="application/octet" />
  <Default Extension="so" ContentType="application/octet" />
  <Default Extension="targets" ContentType="application/octet" />
  <Default Extension="md" ContentType="application/octet" />
  <Default Extension="txt" ContentType="application/octet" />
</Types>
"""

RELS = """<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/Portcullis.nuspec" Id="R0" />
</Relationships>
"""


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    version, dll, xmldoc, native, readme, license_file, out = sys.argv[1:]
    entries = {
        "[Content_Types].xml": CONTENT_TYPES.encode(),
        "_rels/.rels": RELS.encode(),
        "Portcullis.nuspec": NUSPEC.format(version=version).encode(),
        "README.md": read(readme),
        "LICENSE.txt": read(license_file),
        "lib/netstandard2.0/Portcullis.dll": read(dll),
        "lib/netstandard2.0/Portcullis.xml": read(xmldoc),
        "runtimes/linux-x64/native/libportcullis.so": read(native),
        "build/Portcullis.targets": TARGETS.encode(),
        "buildTransitive/Portcullis.targets": TARGETS.encode(),
    }
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"Portcullis.{version}.nupkg")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()
